"""Django settings of the constant view with reusable request threads on (section 5).

``BENCH_MAX_IDLE`` sets ``MAX_IDLE`` (default 16, the library's default).
"""

from __future__ import annotations

import os

from benchmarks.apps.settings_di import *  # noqa: F403
from benchmarks.apps.settings_di import DJANGO_LIFESPAN_DI

REQUEST_THREADS = {"MAX_IDLE": int(os.environ.get("BENCH_MAX_IDLE", "16")), "IDLE_TIMEOUT": 60}

DJANGO_LIFESPAN_DI = {**DJANGO_LIFESPAN_DI, "REQUEST_THREADS": REQUEST_THREADS}
