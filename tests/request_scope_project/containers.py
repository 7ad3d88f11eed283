"""The request-scope container, and the record of every instance it opens and closes.

Events are kept in :data:`EVENTS`; a server process also appends them, as JSON lines, to the
file named by ``REQUEST_SCOPE_EVENTS``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from dependency_injector import containers, providers
from django.conf import settings
from django.http import HttpRequest

from django_lifespan_di import CurrentRequest, LifespanResource, RequestResource
from django_lifespan_di.aiohttp import client_session, request_session

__all__ = ["EVENTS", "EVENTS_ENV", "Container", "Tracked", "record"]

EVENTS_ENV = "REQUEST_SCOPE_EVENTS"
EVENTS: list[dict[str, Any]] = []
_lock = threading.Lock()
_serial = itertools.count(1)


def record(event: str, name: str, **fields: Any) -> None:
    """Append one event (to the file of ``REQUEST_SCOPE_EVENTS`` too, if set)."""
    row = {"event": event, "name": name, **fields}
    with _lock:
        EVENTS.append(row)
        path = os.environ.get(EVENTS_ENV)
        if path:
            with open(path, "a", encoding="utf-8") as events:
                events.write(json.dumps(row) + "\n")


class Tracked:
    """A request-scoped instance: its name, its serial number and the request's path."""

    def __init__(self, name: str, path: str | None) -> None:
        self.name = name
        self.serial = next(_serial)
        self.path = path
        self.closed = False


async def tracked(
    name: str, request: HttpRequest | None = None, *needs: Tracked
) -> AsyncIterator[Tracked]:
    """An instance that records its opening and, with the request's error, its closing."""
    instance = Tracked(name, request.path if request is not None else None)
    record("opened", name, serial=instance.serial, path=instance.path)
    try:
        yield instance
    except BaseException as exc:
        record("closed", name, serial=instance.serial, error=type(exc).__name__)
        raise
    else:
        record("closed", name, serial=instance.serial, error=None)
    finally:
        instance.closed = True


async def failing_cleanup() -> AsyncIterator[str]:
    """An instance whose clean-up raises."""
    yield "fails-at-close"
    raise RuntimeError("the clean-up broke")


async def slow(name: str) -> Tracked:
    """A coroutine initializer that takes a few loop turns: concurrent first uses overlap."""
    for _ in range(5):
        await asyncio.sleep(0)
    instance = Tracked(name, None)
    record("opened", name, serial=instance.serial)
    return instance


def _upstream_url() -> str:
    return str(settings.UPSTREAM_URL)  # type: ignore[misc]


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(modules=["tests.request_scope_project.views"])

    request = CurrentRequest()
    http_session: LifespanResource[aiohttp.ClientSession] = LifespanResource(
        client_session, base_url=providers.Callable(_upstream_url)
    )
    # A shared session with a real cookie jar: the control that shows a shared jar leaks.
    jar_session: LifespanResource[aiohttp.ClientSession] = LifespanResource(
        client_session,
        base_url=providers.Callable(_upstream_url),
        cookie_jar=providers.Factory(aiohttp.CookieJar),
    )
    user_session: RequestResource[aiohttp.ClientSession] = RequestResource(
        request_session, http_session
    )
    first: RequestResource[Tracked] = RequestResource(tracked, "first", request)
    second: RequestResource[Tracked] = RequestResource(tracked, "second", request, first)
    broken: RequestResource[str] = RequestResource(failing_cleanup)
    slow: RequestResource[Tracked] = RequestResource(slow, "slow")
