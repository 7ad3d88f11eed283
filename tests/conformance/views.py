"""Views injected by ``django_lifespan_di.inject``, with no wiring; each answers what it got.

Every view answers :func:`answer`: a description of the injected object (its type, whether it
is an open ``ClientSession``, the token of the resource instance it is), the running loop's
token, and what the upstream answered to one GET made through the session.

This module has no ``from __future__ import annotations`` (hence the ``noqa`` below): the
``Annotated[...]`` markers must be real objects at run time, as in a project without it.
"""
# ruff: noqa: I002

import inspect
import logging
import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import httpx
from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.views import View

from django_lifespan_di import inject
from tests.conformance.containers import ApiClient, Container, instance_token, loop_token

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

PLAIN_VALUES = (bool, int, float, str, dict, list, type(None))


def describe(obj: Any) -> dict[str, Any]:
    """What a view was given, in JSON terms."""
    kind = type(obj)
    described: dict[str, Any] = {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "is_session": isinstance(obj, ClientSession),
        "awaitable": inspect.isawaitable(obj),
        "instance": instance_token(obj),
        "id": id(obj),
    }
    if isinstance(obj, ClientSession):
        described["closed"] = obj.closed
    if isinstance(obj, httpx.AsyncClient):
        described["is_httpx_client"] = True
        described["closed"] = obj.is_closed
    if isinstance(obj, ApiClient):
        described["session"] = describe(obj.session)
    if isinstance(obj, PLAIN_VALUES):
        described["value"] = obj
    return described


async def answer(style: str, got: Any, session: Any = None) -> JsonResponse:
    """The view's answer: what it got, on which loop, and one GET through ``session``."""
    upstream = None
    if isinstance(session, ClientSession) and not session.closed:
        async with session.get("/data") as response:
            upstream = {"status": response.status, "body": await response.json()}
    elif isinstance(session, httpx.AsyncClient) and not session.is_closed:
        reply = await session.get("/data")
        upstream = {"status": reply.status_code, "body": reply.json()}
    return JsonResponse(
        {
            "style": style,
            "got": describe(got),
            "loop": loop_token(),
            "pid": os.getpid(),
            "upstream": upstream,
        }
    )


@inject
async def inject_function(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> HttpResponse:
    return await answer("inject-function", session, session)


class InjectMethod(View):
    @inject
    async def get(
        self, request: HttpRequest, session: ClientSession = Provide[Container.http_session]
    ) -> HttpResponse:
        return await answer("inject-method", session, session)


@inject
def inject_sync(
    request: HttpRequest, greeting: dict[str, str] = Provide[Container.greeting]
) -> HttpResponse:
    return JsonResponse(
        {
            "style": "inject-sync",
            "got": describe(greeting),
            "loop": loop_token(),
            "pid": os.getpid(),
            "upstream": None,
        }
    )


async def _annotated_inject(
    request: HttpRequest, session: Annotated[ClientSession, Provide[Container.http_session]]
) -> HttpResponse:
    return await answer("annotated-inject", session, session)


def decorated(decorator: Callable[[F], F], view: F) -> F:
    """``decorator(view)``; if decorating raises, a view raising that error when called, so
    the failure shows in this style's cells rather than breaking the whole project's import."""
    try:
        return decorator(view)
    except Exception as exc:
        error = exc

    async def undecorated(*args: Any, **kwargs: Any) -> HttpResponse:
        raise error

    # Named like the view, without its signature (no __wrapped__): its markers are not there.
    undecorated.__name__ = view.__name__
    undecorated.__qualname__ = view.__qualname__
    return undecorated  # type: ignore[return-value]


annotated_inject = decorated(inject, _annotated_inject)


@inject
async def factory_inject(
    request: HttpRequest, client: ApiClient = Provide[Container.api_client]
) -> HttpResponse:
    return await answer("factory-inject", client, getattr(client, "session", None))


@inject
async def provided_inject(
    request: HttpRequest, closed: bool = Provide[Container.http_session.provided.closed]
) -> HttpResponse:
    return await answer("provided-inject", closed)


@inject
async def no_finally_inject(
    request: HttpRequest, session: ClientSession = Provide[Container.bare_session]
) -> HttpResponse:
    return await answer("no-finally-inject", session, session)


async def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class ErrorAsJson(MiddlewareMixin):
    """Answer a view's exception as JSON (and log it), so a server cell can show the error."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse:
        logger.error("%s raised", request.path, exc_info=exception)
        return JsonResponse({"error": f"{type(exception).__name__}: {exception}"}, status=500)


@inject
async def httpx_inject(
    request: HttpRequest, client: httpx.AsyncClient = Provide[Container.httpx_client]
) -> HttpResponse:
    return await answer("httpx-inject", client, client)
