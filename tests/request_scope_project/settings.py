"""Settings of the request-scope project.

A real server runs it as it is; the in-process tests apply its ``ROOT_URLCONF``,
``MIDDLEWARE`` and ``DJANGO_LIFESPAN_DI`` with ``override_settings``.
"""

from __future__ import annotations

from tests.project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.request_scope_project.urls"
MIDDLEWARE = ["django_lifespan_di.middleware.RequestScopeMiddleware"]
DJANGO_LIFESPAN_DI = {
    "CONTAINER": "tests.request_scope_project.containers.Container",
    "STARTUP_TIMEOUT": 5.0,
    "SHUTDOWN_TIMEOUT": 5.0,
}
