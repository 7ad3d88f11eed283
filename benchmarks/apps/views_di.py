"""Django view of variant (c): the session injected as the README recommends."""

from __future__ import annotations

import httpx
from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from django.http import HttpRequest, HttpResponse

from benchmarks.apps.containers import Container
from benchmarks.apps.sessions import PATH
from django_lifespan_di import inject


@inject
async def injected(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    """(c) The lifespan-started session, injected by ``django_lifespan_di.inject``."""
    async with session.get(PATH) as response:
        body = await response.read()
    return HttpResponse(body, content_type="application/octet-stream")


@inject
async def injected_httpx(
    request: HttpRequest, client: httpx.AsyncClient = Provide[Container.httpx_client]
) -> HttpResponse:
    """(f) The lifespan-started ``httpx.AsyncClient``, injected the same way."""
    response = await client.get(PATH)
    return HttpResponse(response.content, content_type="application/octet-stream")
