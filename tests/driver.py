"""A raw ASGI lifespan driver: plays the server's side, message by message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from django_lifespan_di.asgi import get_asgi_application


def http_scope(path: str, *, scope_type: str = "http") -> dict[str, Any]:
    """The scope a server sends for ``GET path`` (``scope_type="websocket"``: a websocket)."""
    path, _, query = path.partition("?")
    return {
        "type": scope_type,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


class LifespanRun:
    """What a server would see: every message the app sent, and the lifespan ``state``."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self._receive: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sent_one = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]

    async def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self._sent_one.set()

    async def _wait_for_reply(self, timeout: float) -> None:
        """Wait (bounded) until the app has sent a message or has returned."""
        assert self.task is not None
        waiter = asyncio.ensure_future(self._sent_one.wait())
        try:
            await asyncio.wait({waiter, self.task}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            waiter.cancel()
        self._sent_one.clear()

    async def shutdown(self, timeout: float = 30) -> None:
        await self._receive.put({"type": "lifespan.shutdown"})
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout)


@asynccontextmanager
async def drive_lifespan(
    app: Any = None, *, with_state: bool = True, timeout: float = 30
) -> AsyncIterator[LifespanRun]:
    """Send lifespan.startup to ``app``, yield, then send lifespan.shutdown (if startup ended)."""
    app = app or get_asgi_application()
    run = LifespanRun()
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
    if with_state:
        scope["state"] = run.state

    await run._receive.put({"type": "lifespan.startup"})
    run.task = asyncio.ensure_future(app(scope, run._receive.get, run._send))
    await run._wait_for_reply(timeout)
    try:
        yield run
    finally:
        if run.types == ["lifespan.startup.complete"]:
            await run.shutdown(timeout)
        elif not run.task.done():
            run.task.cancel()
