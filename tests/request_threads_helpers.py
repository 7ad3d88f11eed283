"""Helpers for the request-thread tests: containers, a raw ASGI HTTP client, a DB recorder."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from dependency_injector import containers

from django_lifespan_di import LifespanResource
from tests.driver import http_scope
from tests.request_threads_views import DB_ALIAS, thread_key

TIMEOUT = 10.0
"""A bound on every wait of the tests; never a speed check."""


class Empty(containers.DeclarativeContainer):
    """No resources: the lifespan only runs the checks."""


async def _fail_to_stop() -> AsyncIterator[str]:
    yield "flaky"
    raise RuntimeError("flaky could not flush")


class FailingStop(containers.DeclarativeContainer):
    """A resource whose stop raises, so that the lifespan shutdown fails."""

    flaky: LifespanResource[str] = LifespanResource(_fail_to_stop)


@dataclass
class Exchange:
    """What the server saw of one HTTP request: the messages the app sent."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        for message in self.sent:
            if message["type"] == "http.response.start":
                status: int = message["status"]
                return status
        return None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    @property
    def threads(self) -> list[int]:
        """The keys of the threads the view's sync code ran on."""
        assert self.status == 200, (self.status, self.body)
        keys: list[int] = json.loads(self.body)["threads"]
        return keys

    @property
    def thread(self) -> int:
        """The one thread the view's sync code ran on (fails if it ran on several)."""
        (key,) = set(self.threads)
        return key


async def get(
    app: Any,
    path: str,
    *,
    disconnect: asyncio.Event | None = None,
    body_arriving: asyncio.Event | None = None,
) -> Exchange:
    """Send ``GET path`` to ``app`` as a server would; the client leaves when ``disconnect`` is set.

    With ``body_arriving``, the request body never ends: the event is set when the app waits
    for the rest of it. Returns when the app does (after the pool took the thread back).
    """
    scope = http_scope(path)
    requested = False
    gone = disconnect or asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": body_arriving is not None}
        if body_arriving is not None:
            body_arriving.set()
        await gone.wait()  # Django listens for the disconnect while the view runs
        return {"type": "http.disconnect"}

    exchange = Exchange()

    async def send(message: dict[str, Any]) -> None:
        exchange.sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), TIMEOUT)
    return exchange


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after :data:`TIMEOUT` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not {what} after {TIMEOUT} s")
        await asyncio.sleep(0.005)


async def wait_for_event(event: threading.Event) -> None:
    """Wait (bounded) for an event that another thread sets."""
    assert await asyncio.to_thread(event.wait, TIMEOUT), "the event was never set"


def is_open(raw: sqlite3.Connection) -> bool:
    """Whether a DB-API sqlite connection is still open (Django opens them thread-shareable)."""
    try:
        raw.total_changes  # noqa: B018 - any use of a closed connection raises
    except sqlite3.ProgrammingError:
        return False
    return True


class DbRecorder:
    """Every real connection opened to :data:`DB_ALIAS` (``connection_created``), by thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.opened: list[tuple[int, sqlite3.Connection]] = []

    def record(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.alias == DB_ALIAS:
            with self._lock:
                self.opened.append((thread_key(), connection.connection))

    def on(self, key: int) -> list[sqlite3.Connection]:
        """The connections the thread ``key`` opened."""
        with self._lock:
            return [raw for owner, raw in self.opened if owner == key]

    def open_on(self, key: int) -> int:
        """How many connections the thread ``key`` opened that are still open."""
        return sum(is_open(raw) for raw in self.on(key))

    @property
    def still_open(self) -> int:
        with self._lock:
            return sum(is_open(raw) for _, raw in self.opened)

    def close_all(self) -> None:
        """Close what a failed test left open (unclosed sqlite connections warn)."""
        with self._lock:
            for _, raw in self.opened:
                raw.close()
