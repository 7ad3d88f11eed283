"""The conformance container, and the record of every session instance it opens and closes.

Each session resource reports ``opened`` when its initializer has made a session and ``closed``
when the initializer's own code after ``yield`` has closed it, with a token for the instance
and one for the running event loop. Tokens, not ``id()``: a new loop per request (runserver,
the sync test client) often gets the address of the previous, freed one.

In-process the events are kept in :data:`EVENTS`; a server process also appends them, as JSON
lines, to the file named by ``CONFORMANCE_EVENTS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from dependency_injector import containers, providers
from django.conf import settings

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import DEFAULT_TIMEOUT
from django_lifespan_di.httpx import async_client

__all__ = [
    "EVENTS",
    "EVENTS_ENV",
    "ApiClient",
    "Container",
    "instance_token",
    "loop_token",
    "opened_sessions",
]

EVENTS_ENV = "CONFORMANCE_EVENTS"
EVENTS: list[dict[str, Any]] = []
"""Every event of this process, in order (the in-process cells clear it before each cell)."""

_lock = threading.Lock()
_serial = itertools.count(1)
_loop_tokens: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, str] = (
    weakref.WeakKeyDictionary()
)
_instance_tokens: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_opened: list[weakref.ref[aiohttp.ClientSession]] = []


def _token(kind: str) -> str:
    return f"{os.getpid()}:{kind}-{next(_serial)}"


def loop_token() -> str | None:
    """A token of the running event loop, unique in this process; ``None`` outside a loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    with _lock:
        token = _loop_tokens.get(loop)
        if token is None:
            token = _loop_tokens[loop] = _token("loop")
        return token


def instance_token(obj: Any) -> str | None:
    """The token of a session a resource of this container opened, else ``None``."""
    try:
        return _instance_tokens.get(obj)
    except TypeError:  # not weakly referenceable: not one of ours
        return None


def opened_sessions() -> dict[str, aiohttp.ClientSession]:
    """The sessions opened in this process that are still alive, by instance token."""
    alive = [session for ref in _opened if (session := ref()) is not None]
    return {_instance_tokens[session]: session for session in alive}


def _record(event: str, resource: str, session: Any) -> None:
    row = {
        "event": event,
        "resource": resource,
        "instance": instance_token(session),
        "id": id(session),
        "closed": _is_closed(session),
        "loop": loop_token(),
        "pid": os.getpid(),
    }
    with _lock:
        EVENTS.append(row)
        path = os.environ.get(EVENTS_ENV)
        if path:
            with open(path, "a", encoding="utf-8") as events:
                events.write(json.dumps(row) + "\n")


def _is_closed(client: Any) -> bool:
    """``closed`` of an aiohttp session, ``is_closed`` of an httpx client."""
    return bool(client.is_closed if isinstance(client, httpx.AsyncClient) else client.closed)


def _new_session(resource: str) -> aiohttp.ClientSession:
    # The safe defaults of django_lifespan_di.aiohttp.client_session. The session is made here
    # rather than by wrapping client_session: an async generator driving another one would be
    # closed twice (by itself and by the loop's shutdown_asyncgens) in the lazy mode.
    session = aiohttp.ClientSession(
        base_url=settings.CONFORMANCE_UPSTREAM_URL,  # type: ignore[misc]
        timeout=DEFAULT_TIMEOUT,
        connector=aiohttp.TCPConnector(limit=100),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    with _lock:
        _instance_tokens[session] = _token(resource)
        _opened.append(weakref.ref(session))
    _record("opened", resource, session)
    return session


async def recorded_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared session, as a careful initializer is written: closed in ``finally``."""
    session = _new_session("http_session")
    try:
        yield session
    finally:
        await session.close()
        _record("closed", "http_session", session)


async def bare_session_initializer() -> AsyncIterator[aiohttp.ClientSession]:
    """A session initializer as often written: its cleanup after ``yield``, no ``finally``."""
    session = _new_session("bare_session")
    yield session
    await session.close()
    _record("closed", "bare_session", session)


async def recorded_httpx_client() -> AsyncIterator[httpx.AsyncClient]:
    """The library's own httpx factory (``async_client``), its instances recorded."""
    lifetime = async_client(base_url=settings.CONFORMANCE_UPSTREAM_URL)  # type: ignore[misc]
    client = await lifetime.__anext__()
    with _lock:
        _instance_tokens[client] = _token("httpx_client")
        _opened.append(weakref.ref(client))  # type: ignore[arg-type]
    _record("opened", "httpx_client", client)
    try:
        yield client
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await lifetime.__anext__()  # async_client's own clean-up closes the client
        _record("closed", "httpx_client", client)


class ApiClient:
    """A dependent of the session: what a ``providers.Factory`` builds around it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session


class Container(containers.DeclarativeContainer):
    # Only the module of dependency-injector's own @inject views; the views of
    # django_lifespan_di.inject need no wiring (and must not get it, or wiring would inject
    # an Annotated marker that django_lifespan_di.inject itself ignored).
    wiring_config = containers.WiringConfiguration(modules=["tests.conformance.wired_views"])

    http_session: LifespanResource[aiohttp.ClientSession] = LifespanResource(recorded_session)
    bare_session: LifespanResource[aiohttp.ClientSession] = LifespanResource(
        bare_session_initializer
    )
    httpx_client: LifespanResource[httpx.AsyncClient] = LifespanResource(recorded_httpx_client)
    api_client = providers.Factory(ApiClient, session=http_session)
    greeting: providers.Factory[dict[str, str]] = providers.Factory(dict, text="hello")
