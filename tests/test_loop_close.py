"""Closing a loop that created resources lazily: quiet, and every instance closed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientSession

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session
from tests.upstream import Upstream


def _run_recording_loop_errors(main: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    async def wrapped() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        return await main()

    asyncio.run(wrapped())
    return errors


def test_loop_shutdown_closes_a_lazy_session_without_errors() -> None:
    """asyncio.run's cleanup closes a lazily created session and reports no error."""
    resource: LifespanResource[ClientSession] = LifespanResource(client_session)
    sessions: list[ClientSession] = []

    async def main() -> None:
        sessions.append(await resource())

    errors = _run_recording_loop_errors(main)

    assert errors == []
    assert sessions[0].closed


def test_explicit_shutdown_still_runs_the_initializer_cleanup() -> None:
    """An explicit shutdown inside the loop closes the session before the loop ends."""
    resource: LifespanResource[ClientSession] = LifespanResource(client_session)

    async def main() -> None:
        session = await resource()
        await resource.shutdown()
        assert session.closed

    assert _run_recording_loop_errors(main) == []


class Thing:
    """An instance with a flag its initializer's clean-up sets."""

    def __init__(self) -> None:
        self.closed = False
        self.inner_closed = False


def _used_once_in_asyncio_run(
    initializer: Callable[[], AsyncIterator[Thing]],
) -> tuple[list[dict[str, Any]], Thing]:
    """Use a resource of ``initializer`` once in asyncio.run: the loop's errors, the instance."""
    resource: LifespanResource[Thing] = LifespanResource(initializer)
    things: list[Thing] = []

    async def main() -> None:
        things.append(await resource())

    return _run_recording_loop_errors(main), things[0]


def test_cleanup_written_after_yield_without_finally_runs_when_the_loop_ends() -> None:
    """``s = open(); yield s; close(s)`` (no try/finally) is closed by asyncio.run's end: the
    loop no longer throws GeneratorExit at the initializer's yield."""

    async def open_thing() -> AsyncIterator[Thing]:
        thing = Thing()
        yield thing
        thing.closed = True

    errors, thing = _used_once_in_asyncio_run(open_thing)

    assert errors == []
    assert thing.closed


def test_a_nested_asynccontextmanager_closes_in_order_without_loop_errors() -> None:
    """An initializer that holds an asynccontextmanager open across its yield closes it, then
    runs its own clean-up, with no "asynchronous generator is already running" error."""
    order: list[str] = []

    @contextlib.asynccontextmanager
    async def connection(thing: Thing) -> AsyncIterator[Thing]:
        yield thing
        thing.inner_closed = True
        order.append("inner")

    async def open_thing() -> AsyncIterator[Thing]:
        thing = Thing()
        async with connection(thing):
            yield thing
        thing.closed = True
        order.append("outer")

    errors, thing = _used_once_in_asyncio_run(open_thing)

    assert errors == []
    assert thing.inner_closed
    assert thing.closed
    assert order == ["inner", "outer"]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _live_sessions() -> int:
    gc.collect()
    # type(), not isinstance(): isinstance would evaluate lazy objects (Django's LazyObject).
    return sum(type(each) is ClientSession for each in gc.get_objects())


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count fds")
def test_loops_closed_without_shutdown_asyncgens_leave_nothing_open(
    upstream_server: Upstream,
) -> None:
    """1,000 loops ended by a plain ``loop.close()``, each with one upstream request through a
    lazily created session: open fds stay flat, no session stays alive, and the resource keeps
    no state for the dead loops."""
    resource: LifespanResource[ClientSession] = LifespanResource(client_session)

    async def one_request() -> None:
        session = await resource()
        async with session.get(f"{upstream_server.url}/data") as response:
            assert response.status == 200

    def run_one_loop() -> None:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(one_request())
        loop.close()

    run_one_loop()  # the first opens what stays open anyway (the resolver, imports)
    fds, sessions = _open_fds(), _live_sessions()
    for _ in range(1000):
        run_one_loop()

    assert _open_fds() <= fds + 2
    assert _live_sessions() == sessions  # none of the 1,000 is still alive
    assert resource._states == {}
