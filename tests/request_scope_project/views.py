"""Views that use request-scoped providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from dependency_injector.wiring import Provide
from dependency_injector.wiring import inject as di_inject
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from django_lifespan_di import inject
from tests.request_scope_project.containers import Container, Tracked, record


def _describe(*instances: Tracked) -> JsonResponse:
    return JsonResponse({"serials": [each.serial for each in instances]})


@inject
async def plain(
    request: HttpRequest,
    first: Tracked = Provide[Container.first],
    again: Tracked = Provide[Container.first],
) -> JsonResponse:
    return _describe(first, again)


@di_inject
async def wired(request: HttpRequest, first: Tracked = Provide[Container.first]) -> JsonResponse:
    return _describe(first)


async def unused(request: HttpRequest) -> HttpResponse:
    return HttpResponse("nothing request-scoped")


@inject
async def ordered(
    request: HttpRequest, second: Tracked = Provide[Container.second]
) -> JsonResponse:
    return _describe(second)


@inject
async def stream(request: HttpRequest, first: Tracked = Provide[Container.first]) -> HttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for number in range(3):
            assert not first.closed, "the instance was closed before the last chunk"
            record("chunk", "first", serial=first.serial, number=number)
            await asyncio.sleep(0)
            yield f"chunk {number}\n".encode()

    return StreamingHttpResponse(chunks())


@inject
async def error(request: HttpRequest, first: Tracked = Provide[Container.first]) -> HttpResponse:
    raise ValueError("the view broke")


@inject
async def broken(
    request: HttpRequest,
    first: Tracked = Provide[Container.first],
    broken: str = Provide[Container.broken],
) -> JsonResponse:
    return _describe(first)


@inject
async def hold(
    request: HttpRequest,
    first: Tracked = Provide[Container.first],
    session: aiohttp.ClientSession = Provide[Container.http_session],
) -> HttpResponse:
    """Wait for the upstream's /hold, which answers only when released: a disconnect cancels."""
    record("holding", "first", serial=first.serial)
    async with session.get("/hold") as response:
        return HttpResponse(await response.text())


@inject
async def _slow(slow: Tracked = Provide[Container.slow]) -> Tracked:
    return slow


async def concurrent(request: HttpRequest) -> JsonResponse:
    """Ten concurrent first uses of one request-scoped provider."""
    return _describe(*await asyncio.gather(*(_slow() for _ in range(10))))


async def _login_and_read(session: aiohttp.ClientSession, user: str) -> JsonResponse:
    if user:
        async with session.get("/data", headers={"X-User": user}) as response:
            await response.read()
    async with session.get("/data") as response:
        seen = await response.json()
    return JsonResponse({"cookie": seen["cookie"]})


@inject
async def per_request_cookies(
    request: HttpRequest, session: aiohttp.ClientSession = Provide[Container.user_session]
) -> JsonResponse:
    """Log in as ?user= (the upstream sets a cookie), then show the cookie sent back."""
    return await _login_and_read(session, request.GET.get("user", ""))


@inject
async def shared_jar_cookies(
    request: HttpRequest, session: aiohttp.ClientSession = Provide[Container.jar_session]
) -> JsonResponse:
    """The same, through one shared session with a cookie jar: the control."""
    return await _login_and_read(session, request.GET.get("user", ""))
