"""Settings of the demo project; every ``DEMO_*`` value can be set from the environment."""

from __future__ import annotations

import os

# A demo-only key: set DJANGO_SECRET_KEY for anything that is not on your own machine.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-a-secret")
DEBUG = os.environ.get("DEMO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
USE_TZ = True

INSTALLED_APPS = ["django_lifespan_di", "demo"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "demo.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {},
    }
]
# No models, so no database.
DATABASES: dict[str, dict[str, str]] = {}

DJANGO_LIFESPAN_DI = {
    "CONTAINER": "demo.containers.Container",
    "STARTUP_TIMEOUT": 10.0,
    "SHUTDOWN_TIMEOUT": 10.0,
}

# The weather service. Empty: the server starts its own on 127.0.0.1 (a free port), in its own
# event loop. A URL (``https://weather.example.com/v1/``): the demo calls that one instead.
DEMO_UPSTREAM_URL = os.environ.get("DEMO_UPSTREAM_URL", "")
# Seconds one upstream request may take in all before the views answer 504.
DEMO_HTTP_TIMEOUT = float(os.environ.get("DEMO_HTTP_TIMEOUT", "5"))
# Connections the shared session keeps open to upstreams at most.
DEMO_HTTP_POOL_SIZE = int(os.environ.get("DEMO_HTTP_POOL_SIZE", "20"))
# Seconds a weather report stays in the cache, and between two sweeps of expired entries.
DEMO_CACHE_TTL = float(os.environ.get("DEMO_CACHE_TTL", "30"))
DEMO_CACHE_SWEEP_INTERVAL = float(os.environ.get("DEMO_CACHE_SWEEP_INTERVAL", "10"))
# The cities on the dashboard.
DEMO_CITIES = ["Oslo", "Lisbon", "Nairobi", "Lima", "Osaka"]

LOGGING = {
    "version": 1,
    # uvicorn configures its loggers before it imports the app: keep them.
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)-9s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # One line per resource started and stopped, with how long it took.
        "django_lifespan_di": {"handlers": ["console"], "level": "INFO"},
        "demo": {"handlers": ["console"], "level": "INFO"},
    },
}
