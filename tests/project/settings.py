"""Settings of the Django project the test suite (and the real-server tests) run."""

from __future__ import annotations

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.project.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_lifespan_di"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

DJANGO_LIFESPAN_DI = {
    "CONTAINER": "tests.project.containers.Container",
    "STARTUP_TIMEOUT": float(os.environ.get("LIFESPAN_STARTUP_TIMEOUT", "5")),
    "SHUTDOWN_TIMEOUT": float(os.environ.get("LIFESPAN_SHUTDOWN_TIMEOUT", "5")),
}

# Where the views' upstream lives; tests point it at an aiohttp server on loopback.
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://localhost:1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": os.environ.get("DISABLE_EXISTING_LOGGERS") == "1",
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_lifespan_di": {"handlers": ["console"], "level": "INFO"}},
}
