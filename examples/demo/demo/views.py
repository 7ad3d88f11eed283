"""The demo's views: each asks for the shared session (and the cache) instead of making its own.

Upstream failures become clear gateway errors: 502 when the weather service cannot be reached
or gives no usable answer, 504 when it does not answer within ``DEMO_HTTP_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

import aiohttp
from aiohttp import ClientSession
from dependency_injector import providers
from dependency_injector.wiring import Provide, inject
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from django.views.generic.base import TemplateResponseMixin
from django_lifespan_di import get_container

from demo.cache import TTLCache
from demo.containers import Container


class UpstreamError(Exception):
    """The weather service failed; ``status`` is the gateway status to answer with."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail

    def response(self) -> JsonResponse:
        return JsonResponse(
            {"error": self.error, "detail": self.detail, "status": self.status},
            status=self.status,
        )


async def fetch_json(session: ClientSession, path: str, **params: str) -> Any:
    """GET ``path`` (relative to the service's URL) and decode its JSON, or raise UpstreamError."""
    try:
        async with session.get(path, params=params) as response:
            if response.status >= 400:
                raise UpstreamError(
                    502, "bad_gateway", f"the weather service answered {response.status}"
                )
            return await response.json()
    # First: aiohttp's timeouts are also ClientErrors. asyncio's (not the builtin) is the one
    # aiohttp raises on Python 3.10.
    except asyncio.TimeoutError:
        total = session.timeout.total
        raise UpstreamError(
            504, "gateway_timeout", f"the weather service did not answer within {total:g} s"
        ) from None
    except (aiohttp.ClientError, ValueError) as exc:
        # ValueError: a body that is not JSON. The upstream's address stays out of the answer.
        raise UpstreamError(
            502, "bad_gateway", f"the weather service could not be used ({type(exc).__name__})"
        ) from exc


async def gather_all(*awaitables: Awaitable[Any]) -> list[Any]:
    """Await all of them, even when one fails, then raise the first failure."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


@inject
async def weather(
    request: HttpRequest,
    session: ClientSession = Provide[Container.http_session],
    cache: TTLCache = Provide[Container.cache],
) -> HttpResponse:
    """``/api/weather?city=Oslo``: the service's report for a city, cached for DEMO_CACHE_TTL."""
    city = request.GET.get("city", "").strip()
    if not city:
        return JsonResponse(
            {"error": "missing_city", "detail": "pass a city: /api/weather?city=Oslo"},
            status=400,
        )
    report = cache.get(city.casefold())
    if report is not None:
        return JsonResponse({"weather": report, "cached": True})
    try:
        report = await fetch_json(session, "weather", city=city)
    except UpstreamError as exc:
        return exc.response()
    cache.set(city.casefold(), report)
    return JsonResponse({"weather": report, "cached": False})


class DashboardView(TemplateResponseMixin, View):
    """``/``: the weather of DEMO_CITIES and a few quotes, fetched concurrently on one session."""

    template_name = "demo/dashboard.html"

    @inject
    async def get(
        self, request: HttpRequest, session: ClientSession = Provide[Container.http_session]
    ) -> HttpResponse:
        cities = list(settings.DEMO_CITIES)
        try:
            *reports, quotes = await gather_all(
                *(fetch_json(session, "weather", city=city) for city in cities),
                fetch_json(session, "quotes", limit="3"),
            )
        except UpstreamError as exc:
            return self.render_to_response({"error": exc}, status=exc.status)
        return self.render_to_response({"reports": reports, "quotes": quotes["quotes"]})


async def health(request: HttpRequest) -> JsonResponse:
    """``/health``: the state of each resource; 503 unless all are up and the session is open.

    It reads the container without asking for any resource, so it never starts one: outside a
    server that runs the lifespan (``runserver``), it reports them as not initialised.
    """
    container = get_container()
    report: dict[str, dict[str, Any]] = {}
    for name, provider in container.providers.items():
        if isinstance(provider, providers.BaseResource):
            report[name] = {"initialized": bool(provider.initialized)}
    if container.upstream.initialized:
        url = await _value(container.upstream)
        report["upstream"].update(url=url, embedded=not settings.DEMO_UPSTREAM_URL)
    if container.http_session.initialized:
        session: ClientSession = await _value(container.http_session)
        connector = session.connector
        report["http_session"].update(
            closed=session.closed,
            pool_limit=connector.limit if connector is not None else None,
            timeout_s=session.timeout.total,
        )
    if container.cache.initialized:
        cache: TTLCache = await _value(container.cache)
        report["cache"].update(
            entries=len(cache), hits=cache.hits, misses=cache.misses, sweeping=cache.sweeping
        )
    session_open = report["http_session"].get("closed") is False
    ok = session_open and all(entry["initialized"] for entry in report.values())
    return JsonResponse({"ok": ok, "resources": report}, status=200 if ok else 503)


async def _value(provider: Any) -> Any:
    value = provider()
    return await value if inspect.isawaitable(value) else value
