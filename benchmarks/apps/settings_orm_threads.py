"""Django settings of the one-query ORM view with reusable request threads on (section 5).

``BENCH_MAX_IDLE`` sets ``MAX_IDLE`` (default 16, the library's default).
"""

from __future__ import annotations

from benchmarks.apps.settings_orm import *  # noqa: F403
from benchmarks.apps.settings_orm import DJANGO_LIFESPAN_DI
from benchmarks.apps.settings_threads import REQUEST_THREADS

DJANGO_LIFESPAN_DI = {**DJANGO_LIFESPAN_DI, "REQUEST_THREADS": REQUEST_THREADS}
