"""The demo's container: the weather service, the shared session that calls it, a cache.

Startup order follows the dependencies: ``upstream`` first, then ``http_session`` (it needs the
service's URL); ``cache`` needs nothing and starts alongside. Shutdown runs in reverse: the
session is closed before the embedded service stops.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession
from dependency_injector import containers, providers
from django.conf import settings
from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session

from demo.cache import TTLCache, ttl_cache
from demo.upstream import weather_service


def setting(name: str) -> Any:
    """Read a setting when a resource starts (not at import), so tests can override it."""
    return getattr(settings, name)


class Container(containers.DeclarativeContainer):
    """Named in ``DJANGO_LIFESPAN_DI["CONTAINER"]``; its resources live as long as the server."""

    wiring_config = containers.WiringConfiguration(modules=["demo.views"])

    upstream: LifespanResource[str] = LifespanResource(
        weather_service, url=providers.Callable(setting, "DEMO_UPSTREAM_URL")
    )
    http_session: LifespanResource[ClientSession] = LifespanResource(
        client_session,
        base_url=upstream,
        timeout=providers.Callable(setting, "DEMO_HTTP_TIMEOUT"),
        limit=providers.Callable(setting, "DEMO_HTTP_POOL_SIZE"),
        headers={"User-Agent": "django-lifespan-di-demo"},
    )
    cache: LifespanResource[TTLCache] = LifespanResource(
        ttl_cache,
        ttl=providers.Callable(setting, "DEMO_CACHE_TTL"),
        sweep_interval=providers.Callable(setting, "DEMO_CACHE_SWEEP_INTERVAL"),
    )
