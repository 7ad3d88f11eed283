"""Fixtures shared by the suite: the loopback upstream, a raw lifespan driver, the container."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from django.test import override_settings

from django_lifespan_di import _container, get_container
from django_lifespan_di.asgi import get_asgi_application
from tests.upstream import Upstream, running_upstream


@pytest.fixture(name="upstream_server", scope="session")
def fixture_upstream_server() -> Iterator[Upstream]:
    with running_upstream() as upstream:
        yield upstream


@pytest.fixture(name="upstream")
def fixture_upstream(upstream_server: Upstream) -> Iterator[Upstream]:
    """The loopback upstream, with what it saw reset, and the project pointed at it."""
    upstream_server.reset()
    with override_settings(UPSTREAM_URL=upstream_server.url):
        yield upstream_server
    upstream_server.reset()


@pytest.fixture(name="container")
def fixture_container() -> Iterator[Any]:
    """A freshly built and wired container for the test; the previous one comes back after."""
    _container.setup()
    yield get_container()
    _container.setup()


class LifespanRun:
    """What a server would see: every message the app sent, and the lifespan ``state``."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self._receive: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    @property
    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]

    async def _wait_for(self, count: int, timeout: float) -> None:
        async def wait() -> None:
            while len(self.sent) < count and not (self.task and self.task.done()):
                await asyncio.sleep(0.001)

        await asyncio.wait_for(wait(), timeout)

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

    async def send(message: dict[str, Any]) -> None:
        run.sent.append(message)

    await run._receive.put({"type": "lifespan.startup"})
    run.task = asyncio.ensure_future(app(scope, run._receive.get, send))
    await run._wait_for(1, timeout)
    try:
        yield run
    finally:
        if run.types == ["lifespan.startup.complete"]:
            await run.shutdown(timeout)
        elif not run.task.done():
            run.task.cancel()
