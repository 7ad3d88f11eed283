"""Readiness and liveness probes, the resources' health checks and their pools' numbers.

Include the probes in your URLconf::

    path("health/", include("django_lifespan_di.health"))  # health/ready, health/live

Under a server that sends lifespan, readiness is 503 until the startup completed and again
from the moment the shutdown begins, before the first resource stops; in between, it runs
each resource's health check. Without lifespan (daphne, ``runserver``), it runs the checks on
the request's own event loop, starting the resources there as a view would.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_lifespan_di import _container, _readiness
from django_lifespan_di._lifecycle import resource_names
from django_lifespan_di._probes import PoolStats, check_of, stats_of
from django_lifespan_di._resource import LifespanResource

__all__ = [
    "PoolStats",
    "ResourceHealth",
    "check_resources",
    "liveness",
    "pool_metrics",
    "readiness",
    "urlpatterns",
]


@dataclass(frozen=True)
class ResourceHealth:
    """What the health check of one resource found.

    ``up``: it started and its check (if it has one) passed; ``checked``: whether it has a
    check; ``latency_ms``: how long the check took; ``error``: why it is down;
    ``last_error``: the latest failure of this resource in this process, even if it is up
    again; ``pool``: its connection pool's numbers, for a client of our factories.
    """

    up: bool
    checked: bool
    latency_ms: float | None
    error: str | None
    last_error: str | None
    pool: PoolStats | None

    def as_dict(self) -> dict[str, Any]:
        """The readiness JSON of this resource."""
        return {
            "status": "up" if self.up else "down",
            "checked": self.checked,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "error": self.error,
            "last_error": self.last_error,
            "pool": None if self.pool is None else self.pool.as_dict(),
        }


_last_errors: dict[str, str] = {}


async def check_resources() -> dict[str, ResourceHealth]:
    """Run every resource's health check (concurrently, each bounded by ``HEALTH_TIMEOUT``).

    A resource's check is the one ``HEALTH_CHECKS`` names for it, else the default its
    factory attached (``client_session(health_url=...)``, ``async_client(health_url=...)``),
    else none: then it is up once it is started.
    """
    container = _container.get_container()
    settings = _container.get_lifespan_settings()
    names = list(resource_names(container).items())
    results = await asyncio.gather(
        *(
            _check(name, provider, settings.health_checks.get(name), settings.health_timeout)
            for provider, name in names
        )
    )
    return {name: result for (_, name), result in zip(names, results, strict=True)}


async def _check(
    name: str,
    provider: Any,
    configured: Callable[[Any], Awaitable[object]] | None,
    timeout: float,
) -> ResourceHealth:
    began = time.perf_counter()
    instance: Any = None
    check = configured
    try:
        instance = provider()
        if inspect.isawaitable(instance):
            instance = await instance
        check = configured or check_of(instance)
        if check is not None:
            began = time.perf_counter()
            await asyncio.wait_for(check(instance), timeout)
    except Exception as exc:
        if isinstance(exc, asyncio.TimeoutError):
            error = f"the health check did not answer within {timeout:g} s (HEALTH_TIMEOUT)"
        else:
            error = f"{type(exc).__name__}: {exc}"
        _last_errors[name] = error
        return ResourceHealth(
            up=False,
            checked=check is not None,
            latency_ms=(time.perf_counter() - began) * 1000 if check is not None else None,
            error=error,
            last_error=error,
            pool=_stats(instance),
        )
    return ResourceHealth(
        up=True,
        checked=check is not None,
        latency_ms=(time.perf_counter() - began) * 1000 if check is not None else None,
        error=None,
        last_error=_last_errors.get(name),
        pool=_stats(instance),
    )


def _stats(instance: Any) -> PoolStats | None:
    return stats_of(instance) if instance is not None else None


def pool_metrics() -> dict[str, PoolStats]:
    """The pool numbers of each started resource made by our client factories, by name.

    Cheap (it runs no check, it sends nothing) and callable from any thread, such as a
    metrics exporter's: it reads the latest started instance of each ``LifespanResource``
    (under lifespan, the one instance).
    """
    found: dict[str, PoolStats] = {}
    for provider, name in resource_names(_container.get_container()).items():
        ready = provider.ready_instance if isinstance(provider, LifespanResource) else None
        stats = stats_of(ready[1]) if ready is not None else None
        if stats is not None:
            found[name] = stats
    return found


async def readiness(request: HttpRequest) -> JsonResponse:
    """200 if this process should get traffic, else 503; with each resource's health, as JSON.

    ``phase`` is ``starting``, ``ready``, ``failed``, ``stopping`` or ``stopped`` under
    lifespan, ``no lifespan`` without it. Outside ``ready`` (and ``no lifespan``) no check
    runs and ``resources`` is empty.
    """
    phase = _readiness.current()
    if phase not in (None, "ready"):
        return JsonResponse({"ready": False, "phase": phase, "resources": {}}, status=503)
    found = await check_resources()
    ready = all(health.up for health in found.values())
    return JsonResponse(
        {
            "ready": ready,
            "phase": phase or "no lifespan",
            "resources": {name: health.as_dict() for name, health in found.items()},
        },
        status=200 if ready else 503,
    )


async def liveness(request: HttpRequest) -> JsonResponse:
    """Always 200 while the process can answer at all: no check runs, nothing is sent."""
    return JsonResponse({"alive": True, "phase": _readiness.current() or "no lifespan"})


urlpatterns = [
    path("ready", readiness, name="django_lifespan_di_readiness"),
    path("live", liveness, name="django_lifespan_di_liveness"),
]
