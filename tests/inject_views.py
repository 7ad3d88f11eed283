"""Views decorated with django_lifespan_di.inject, in a module no container is wired to."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession
from dependency_injector.wiring import Provide, Provider
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views import View

from django_lifespan_di import inject
from tests.project.containers import Container


@inject
async def session_id(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    return JsonResponse({"session": id(session), "closed": session.closed})


class SessionView(View):
    @inject
    async def get(
        self, request: HttpRequest, session: ClientSession = Provide["http_session"]
    ) -> HttpResponse:
        return JsonResponse({"session": id(session)})


@inject
async def unknown_provider(request: HttpRequest, thing: Any = Provide["no_such_thing"]) -> Any:
    return HttpResponse("unreachable")


@inject
async def get_session(session: ClientSession = Provide[Container.http_session]) -> ClientSession:
    return session


@inject
async def get_provider(provider: Any = Provider[Container.http_session]) -> Any:
    return provider


@inject
def sync_get_session(session: ClientSession = Provide[Container.http_session]) -> ClientSession:
    return session


urlpatterns = [path("session", session_id), path("cbv", SessionView.as_view())]


class BrokenUrls:
    urlpatterns = [path("unknown", unknown_provider)]
