"""Health checks and containers the health tests configure (``HEALTH_CHECKS``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientSession
from dependency_injector import containers, providers
from django.http import HttpRequest
from django.urls import include, path

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session
from django_lifespan_di.health import readiness
from django_lifespan_di.httpx import async_client
from tests.project.containers import upstream_url

down: dict[str, str] = {}
"""Resource name -> the error ``flaky`` raises for it; empty: every check passes."""
checked: list[Any] = []
"""The instances ``flaky`` was given."""
seen: list[tuple[str, int, str, bool]] = []
"""(when, status, body, session closed) of what ``ProbingContainer.probe`` saw."""


async def flaky(instance: Any) -> None:
    """Up unless the test put the instance's resource in ``down``."""
    checked.append(instance)
    if "http_session" in down:
        raise ConnectionError(down["http_session"])


async def hangs(instance: Any) -> None:
    """Never answers (HEALTH_TIMEOUT ends it)."""
    await asyncio.Event().wait()


def sync_check(instance: Any) -> None:
    """Not async: a configuration mistake."""


async def _probing(session: ClientSession) -> AsyncIterator[str]:
    for when in ("startup", "shutdown"):
        response = await readiness(HttpRequest())
        seen.append((when, response.status_code, response.content.decode(), session.closed))
        if when == "startup":
            yield "probe"


async def _number() -> AsyncIterator[int]:
    yield 42


async def _refusing() -> AsyncIterator[int]:
    raise ConnectionRefusedError("cache.invalid:6379 refused the connection")
    yield 0  # pragma: no cover


class PlainContainer(containers.DeclarativeContainer):
    """A session without a health_url, a plain value, a sync resource: no checks."""

    http_session = LifespanResource(client_session, base_url=providers.Callable(upstream_url))
    number = LifespanResource(_number)
    settings = providers.Resource(dict, answer=42)


class RefusingContainer(containers.DeclarativeContainer):
    """A resource that cannot start (used without lifespan: the probe starts it)."""

    cache = LifespanResource(_refusing)


class ProbingContainer(containers.DeclarativeContainer):
    """A session, and a resource that asks for readiness in its startup and its shutdown."""

    http_session = LifespanResource(client_session, base_url=providers.Callable(upstream_url))
    probe = LifespanResource(_probing, session=http_session)


class ErrorStatusContainer(containers.DeclarativeContainer):
    """Both clients, with a health_url the upstream answers 404."""

    http_session = LifespanResource(
        client_session, base_url=providers.Callable(upstream_url), health_url="/no-such-page"
    )
    httpx_client = LifespanResource(
        async_client, base_url=providers.Callable(upstream_url), health_url="/no-such-page"
    )


urlpatterns = [path("health/", include("django_lifespan_di.health"))]


def log_pool_metrics() -> None:
    """Log the pools' numbers, one line per client (docs/howto/pool-metrics.md)."""
    import logging

    from django_lifespan_di.health import pool_metrics

    logger = logging.getLogger("myproject.pools")
    for name, stats in pool_metrics().items():
        logger.info(
            "pool %s: %d open, %d in use, %d waiting (limit %d)",
            name,
            stats.open,
            stats.in_use,
            stats.waiting,
            stats.limit,
            extra={"pool": name, **stats.as_dict()},
        )
