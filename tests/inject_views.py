"""Views decorated with django_lifespan_di.inject, in a module no container is wired to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from aiohttp import ClientSession
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, Provider
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views import View

from django_lifespan_di import LifespanResource, inject
from django_lifespan_di.aiohttp import client_session
from tests.project.containers import Container, upstream_url


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


# Run modes and injection styles the hardening fixed (each used by a named regression test).


@inject
async def annotated_session(
    session: Annotated[ClientSession, Provide[Container.http_session]],
) -> ClientSession:
    return session


@inject
async def stream_sessions(
    count: int, session: ClientSession = Provide[Container.http_session]
) -> AsyncIterator[ClientSession]:
    for _ in range(count):
        yield session


class Client:
    """What a user builds from the shared session: a service object with a session in it."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session


async def value_of(thing: Any) -> Any:
    return thing


class Dependents(containers.DeclarativeContainer):
    """The test project's session, and providers built from it in each way a user would."""

    http_session = LifespanResource(client_session, base_url=providers.Callable(upstream_url))
    factory = providers.Factory(Client, session=http_session)
    singleton = providers.Singleton(Client, session=http_session)
    callable = providers.Callable(Client, session=http_session)
    greeting = providers.Object("hello")


@inject
async def from_factory(client: Client = Provide[Dependents.factory]) -> ClientSession:
    return client.session


@inject
async def from_singleton(client: Client = Provide[Dependents.singleton]) -> ClientSession:
    return client.session


@inject
async def from_callable(client: Client = Provide[Dependents.callable]) -> ClientSession:
    return client.session


@inject
async def from_provided(closed: bool = Provide[Dependents.http_session.provided.closed]) -> bool:
    return closed


@inject
def sync_from_factory(client: Client = Provide[Dependents.factory]) -> Client:
    return client


@inject
def sync_from_singleton(client: Client = Provide[Dependents.singleton]) -> Client:
    return client


@inject
async def annotated_before_a_required_parameter(
    session: Annotated[ClientSession, Provide[Container.http_session]], city: str
) -> tuple[ClientSession, str]:
    return session, city


@inject
async def with_plain_annotated(
    note: Annotated[str, "documentation, not a marker"],
    session: ClientSession = Provide[Container.http_session],
) -> tuple[str, ClientSession]:
    return note, session


@inject
def sync_greeting(greeting: str = Provide[Dependents.greeting]) -> str:
    return greeting
