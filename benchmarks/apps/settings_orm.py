"""Django settings of the one-query ORM view on PostgreSQL, request threads off (section 5).

The benchmark starts the database and passes where it is in ``BENCH_PG_*``; ``BENCH_CONN_MAX_AGE``
is Django's ``CONN_MAX_AGE`` (0: a connection per request; 60: persistent connections). No
``CONN_HEALTH_CHECKS``: on a reused connection it would add a ``SELECT 1`` to every request.
"""

from __future__ import annotations

import os

from benchmarks.apps.settings_di import *  # noqa: F403
from benchmarks.apps.settings_di import INSTALLED_APPS

ROOT_URLCONF = "benchmarks.apps.urls_orm"
INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.apps"]  # for benchmarks.apps.models
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
        "NAME": os.environ.get("BENCH_PG_NAME", "bench"),
        "USER": os.environ.get("BENCH_PG_USER", "bench"),
        "CONN_MAX_AGE": int(os.environ.get("BENCH_CONN_MAX_AGE", "0")),
    }
}
