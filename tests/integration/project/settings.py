"""The demo's settings, plus what the integration suite selects through the environment.

``INTEGRATION_UPSTREAM_URL`` (required) is the suite's upstream; each process calls it under
``/w/<pid>/``, so the upstream can tell the workers of one server apart. ``INTEGRATION_CASE``
picks the container: ``demo`` (the demo's own) or one of the fault containers in
``tests.integration.project.containers``. ``INTEGRATION_REQUEST_THREADS=1`` turns on
``REQUEST_THREADS``. The demo's ``DEMO_*`` variables still apply.
"""

from __future__ import annotations

import os

from demo.settings import *  # noqa: F403
from demo.settings import DJANGO_LIFESPAN_DI as DEMO_LIFESPAN_DI
from django.core.exceptions import ImproperlyConfigured

INTEGRATION_CASE = os.environ.get("INTEGRATION_CASE", "demo")
CONTAINERS = {
    "demo": "demo.containers.Container",
    "startup-raises": "tests.integration.project.containers.StartupRaises",
    "startup-hangs": "tests.integration.project.containers.StartupHangs",
    "shutdown-raises": "tests.integration.project.containers.ShutdownRaises",
    "shutdown-hangs": "tests.integration.project.containers.ShutdownHangs",
    "stampede": "tests.integration.project.containers.Stampede",
}
if INTEGRATION_CASE not in CONTAINERS:
    raise ImproperlyConfigured(
        f"INTEGRATION_CASE is {INTEGRATION_CASE!r}; expected one of {', '.join(CONTAINERS)}."
    )

ROOT_URLCONF = "tests.integration.project.urls"
DJANGO_LIFESPAN_DI = {
    **DEMO_LIFESPAN_DI,
    # "1": each request's sync work on a reused request thread (the REQUEST_THREADS option).
    "REQUEST_THREADS": True if os.environ.get("INTEGRATION_REQUEST_THREADS") == "1" else None,
    "CONTAINER": CONTAINERS[INTEGRATION_CASE],
    "STARTUP_TIMEOUT": float(
        os.environ.get("INTEGRATION_STARTUP_TIMEOUT", DEMO_LIFESPAN_DI["STARTUP_TIMEOUT"])
    ),
    "SHUTDOWN_TIMEOUT": float(
        os.environ.get("INTEGRATION_SHUTDOWN_TIMEOUT", DEMO_LIFESPAN_DI["SHUTDOWN_TIMEOUT"])
    ),
}

try:
    _UPSTREAM = os.environ["INTEGRATION_UPSTREAM_URL"].rstrip("/")
except KeyError:
    raise ImproperlyConfigured(
        "INTEGRATION_UPSTREAM_URL is not set: the integration suite passes its upstream's URL."
    ) from None
# Settings are read once per process, after gunicorn and granian have started their workers,
# so each worker gets its own path.
DEMO_UPSTREAM_URL = f"{_UPSTREAM}/w/{os.getpid()}/"
# Seconds the slow-to-start resource of the stampede case takes to start.
INTEGRATION_WARMUP = float(os.environ.get("INTEGRATION_WARMUP", "1"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The process id tells the workers of a server apart in its one stderr.
    "formatters": {"plain": {"format": "%(levelname)-9s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # DEBUG: without lifespan, the library logs each instance it creates on first use.
        "django_lifespan_di": {"handlers": ["console"], "level": "DEBUG", "propagate": False},
        "demo": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
