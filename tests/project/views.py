"""Views of the test project: async views that get the shared session injected."""

from __future__ import annotations

from aiohttp import ClientSession
from dependency_injector.wiring import Provide, inject
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View

from tests.project.containers import Container


@inject
async def proxy(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    """Fetch /data from the upstream through the shared session; pass on the caller's cookie."""
    headers = {}
    if "user" in request.GET:
        headers["X-User"] = request.GET["user"]
    async with session.get("/data", headers=headers) as response:
        body = await response.json()
    return JsonResponse({"upstream": body, "session": id(session)})


@inject
async def by_name(
    request: HttpRequest, session: ClientSession = Provide["http_session"]
) -> HttpResponse:
    """The same, with a string marker."""
    return JsonResponse({"session": id(session), "closed": session.closed})


class ProxyView(View):
    """A class-based view whose method gets the session."""

    @inject
    async def get(
        self, request: HttpRequest, session: ClientSession = Provide[Container.http_session]
    ) -> HttpResponse:
        async with session.get("/data") as response:
            body = await response.json()
        return JsonResponse({"upstream": body, "session": id(session)})


@inject
def sync_view(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    """A sync view asking for an async resource: a clear error."""
    return HttpResponse("unreachable")
