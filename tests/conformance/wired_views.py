"""Views injected by dependency-injector's own ``@inject``: this module is in the wiring_config.

No ``from __future__ import annotations`` (hence the ``noqa``): dependency-injector reads
``Annotated[...]`` markers from the annotation objects themselves.
"""
# ruff: noqa: I002

from typing import Annotated

from aiohttp import ClientSession
from dependency_injector.wiring import Provide, inject
from django.http import HttpRequest, HttpResponse

from tests.conformance.containers import ApiClient, Container
from tests.conformance.views import answer


@inject
async def di_wiring(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    return await answer("di-wiring", session, session)


@inject
async def di_string(
    request: HttpRequest, session: ClientSession = Provide["http_session"]
) -> HttpResponse:
    return await answer("di-string", session, session)


@inject
async def annotated_di(
    request: HttpRequest, session: Annotated[ClientSession, Provide[Container.http_session]]
) -> HttpResponse:
    return await answer("annotated-di", session, session)


@inject
async def factory_di(
    request: HttpRequest, client: ApiClient = Provide[Container.api_client]
) -> HttpResponse:
    return await answer("factory-di", client, getattr(client, "session", None))


@inject
async def provided_di(
    request: HttpRequest, closed: bool = Provide[Container.http_session.provided.closed]
) -> HttpResponse:
    return await answer("provided-di", closed)
