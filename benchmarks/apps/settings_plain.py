"""Django settings without django-lifespan-di: variants (a) and (b).

No middleware and no database: the strictest setting for the ratios, since nothing dilutes a
per-request cost of the handler or of the injection.
"""

from __future__ import annotations

SECRET_KEY = "benchmarks-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.apps.urls_plain"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
LOGGING = {"version": 1, "disable_existing_loggers": False}
