"""Settings of the integrations project.

A real server process runs it as it is (``DJANGO_SETTINGS_MODULE``); the in-process tests
apply :data:`IN_PROCESS` with ``override_settings`` on top of the suite's own settings.
``INTEGRATIONS_UPSTREAM_URL`` is the upstream the views and consumers call through the
session; ``INTEGRATIONS_REQUEST_THREADS=1`` turns ``REQUEST_THREADS`` on.
"""

from __future__ import annotations

import os

SECRET_KEY = "integrations-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.integrations_project.urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "django_lifespan_di",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}  # no session or user tables in this project

DJANGO_LIFESPAN_DI = {
    "CONTAINER": "tests.integrations_project.containers.Container",
    "REQUEST_THREADS": True if os.environ.get("INTEGRATIONS_REQUEST_THREADS") == "1" else None,
    "STARTUP_TIMEOUT": 10.0,
    "SHUTDOWN_TIMEOUT": 10.0,
}
UPSTREAM_URL = os.environ.get("INTEGRATIONS_UPSTREAM_URL", "http://127.0.0.1:1")

IN_PROCESS = {
    "ROOT_URLCONF": ROOT_URLCONF,
    "INSTALLED_APPS": INSTALLED_APPS,
    "TEMPLATES": TEMPLATES,
    "REST_FRAMEWORK": REST_FRAMEWORK,
    "DJANGO_LIFESPAN_DI": {"CONTAINER": DJANGO_LIFESPAN_DI["CONTAINER"]},
}
"""What the in-process tests override (the upstream fixture sets ``UPSTREAM_URL``)."""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The format the real-server helpers (tests/integration/servers.py) read lifecycle lines in.
    "formatters": {"plain": {"format": "%(levelname)-9s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_lifespan_di": {"handlers": ["console"], "level": "DEBUG", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
