"""Checked by mypy (``nox -s mypy``), never run: the types users get from the public API."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

from aiohttp import ClientSession
from dependency_injector import containers
from dependency_injector.wiring import Provide
from django.http import HttpRequest, HttpResponse

from django_lifespan_di import LifespanResource, inject
from django_lifespan_di.aiohttp import client_session


class Container(containers.DeclarativeContainer):
    http_session: LifespanResource[ClientSession] = LifespanResource(client_session)


@inject
async def view(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    return HttpResponse(str(session.closed))


@inject
def sync_view(request: HttpRequest, greeting: str = Provide["greeting"]) -> HttpResponse:
    return HttpResponse(greeting)


# inject keeps the function's own type: parameters, defaults and result.
coroutine = assert_type(view(HttpRequest()), Coroutine[Any, Any, HttpResponse])
assert_type(sync_view(HttpRequest()), HttpResponse)
explicit = view(HttpRequest(), session=ClientSession())
wrong = view(HttpRequest(), session="not a session")  # type: ignore[arg-type]
missing = sync_view()  # type: ignore[call-arg]

# A LifespanResource[T] provides T.
assert_type(Container.http_session(), ClientSession)
