"""Settings of the conformance project.

The real-server cells run it as it is (``DJANGO_SETTINGS_MODULE=tests.conformance.settings``);
the in-process cells apply ``ROOT_URLCONF`` and ``DJANGO_LIFESPAN_DI`` from here with
``override_settings`` on top of the suite's own settings.

``CONFORMANCE_UPSTREAM_URL`` is the loopback upstream the views call through the session;
``CONFORMANCE_EVENTS`` (see ``containers.py``) the file the session resources report to.
"""

from __future__ import annotations

import os

SECRET_KEY = "conformance-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.conformance.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_lifespan_di"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# A view that raises answers with the exception as JSON, so a server cell can say what failed.
MIDDLEWARE = ["tests.conformance.views.ErrorAsJson"]

DJANGO_LIFESPAN_DI = {
    "CONTAINER": "tests.conformance.containers.Container",
    "STARTUP_TIMEOUT": 10.0,
    "SHUTDOWN_TIMEOUT": 10.0,
}

CONFORMANCE_UPSTREAM_URL = os.environ.get("CONFORMANCE_UPSTREAM_URL", "http://127.0.0.1:1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The format the real-server helpers (tests/integration/servers.py) read lifecycle lines in.
    "formatters": {"plain": {"format": "%(levelname)-9s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_lifespan_di": {"handlers": ["console"], "level": "DEBUG", "propagate": False},
        "tests.conformance": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
