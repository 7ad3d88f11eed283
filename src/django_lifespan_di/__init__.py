"""Long-lived resources (an aiohttp session, a pool, an SDK client) for async Django views.

A dependency-injector container declares them; the lifespan-aware ASGI handler starts them
before serving and stops them at shutdown; views get them through ``@inject``.
"""

from __future__ import annotations

from django_lifespan_di._container import get_container
from django_lifespan_di._inject import inject
from django_lifespan_di._request_scope import CurrentRequest, RequestResource, request_scope
from django_lifespan_di._resource import LifespanResource
from django_lifespan_di.exceptions import (
    AsyncResourceRequiredError,
    RequestScopeError,
    ShutdownError,
    StartupError,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncResourceRequiredError",
    "CurrentRequest",
    "LifespanResource",
    "RequestResource",
    "RequestScopeError",
    "ShutdownError",
    "StartupError",
    "__version__",
    "get_container",
    "inject",
    "request_scope",
]
