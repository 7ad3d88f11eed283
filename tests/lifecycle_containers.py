"""Containers, resource initializers and hooks for the lifecycle tests.

Every initializer and hook writes what it does to :data:`events` ("start a", "stop a", ...), so a
test can read the order things happened in. The tests reset it (and :data:`meeting`) before each
test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dependency_injector import containers, providers
from django.urls import URLPattern

from django_lifespan_di import LifespanResource, get_container

events: list[str] = []
"""What the resources and hooks did, in order; reset per test."""

# The lifecycle tests serve no views: pointing ROOT_URLCONF here keeps the project's views (wired
# to the project's container, not to these) out of the system checks that startup runs.
urlpatterns: list[URLPattern] = []

MEETING_TIMEOUT = 2.0
"""How long a resource of :func:`meet` waits for its partner before it gives up."""


class StartFailed(Exception):
    """Raised by a resource that cannot start."""


class StopFailed(Exception):
    """Raised by a resource that cannot stop."""


class HookFailed(Exception):
    """Raised by a failing hook."""


class NotConcurrent(Exception):
    """Two resources that should have been starting at the same time were not."""


class CleanupFailed(Exception):
    """Raised by a resource whose cleanup, after its start was cancelled, fails."""


@dataclass(eq=False)
class Handle:
    """What a resource provides: its name, the handles it was given, whether it was closed."""

    name: str
    needs: tuple[Handle, ...] = ()
    closed: bool = False


class Meeting:
    """Counts the :func:`meet` resources starting right now, and lets them wait for each other."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.in_progress = 0
        self.peak = 0
        self.everyone_here = asyncio.Event()


meeting = Meeting()


class Holdout:
    """Decides when :func:`keep_stopping_when_cancelled` ends, and tells when it has ended."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.release = asyncio.Event()
        self.finished = asyncio.Event()


holdout = Holdout()

interrupted: list[asyncio.Task[Any]] = []
"""The tasks :func:`start_as_the_startup_is_cancelled` cancels; set by the test."""


def reset() -> None:
    """Forget everything recorded so far."""
    events.clear()
    meeting.reset()
    holdout.reset()
    interrupted.clear()


# Initializers ---------------------------------------------------------------------------------


@contextmanager
def _provided(name: str, needs: tuple[Handle, ...]) -> Iterator[Handle]:
    """The handle a started resource provides; closed, and its stop recorded, when it stops."""
    handle = Handle(name, needs)
    try:
        yield handle
    finally:
        handle.closed = True
        events.append(f"stop {name}")


async def tracked(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """An async resource that records its start and its stop."""
    events.append(f"start {name}")
    with _provided(name, needs) as handle:
        yield handle


def sync_tracked(name: str, *needs: Handle) -> Iterator[Handle]:
    """A sync resource (for the stock ``providers.Resource``) that records its start and stop."""
    events.append(f"start {name}")
    with _provided(name, needs) as handle:
        yield handle


async def fail_to_start(name: str, *needs: Handle) -> Handle:
    """A resource whose start raises."""
    events.append(f"start {name}")
    raise StartFailed(f"{name} could not connect")


async def hang_on_start(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """A resource whose start never finishes; records its cleanup when it is cancelled."""
    events.append(f"start {name}")
    try:
        await asyncio.Event().wait()
        yield Handle(name, needs)  # never reached
    finally:
        events.append(f"cleanup {name}")


def sync_fail_to_start(name: str, *needs: Handle) -> Iterator[Handle]:
    """A sync resource (for the stock ``providers.Resource``) whose start raises."""
    events.append(f"start {name}")
    raise StartFailed(f"{name} could not connect")
    yield Handle(name, needs)  # never reached: it makes this a generator, as sync_tracked


def start_as_the_startup_is_cancelled(name: str, *needs: Handle) -> Iterator[Handle]:
    """A sync resource whose start is done just as the tasks in :data:`interrupted` are cancelled.

    A sync initializer runs inside the task that starts the resource, so the cancellation can be
    timed to the moment that task has ended, before the startup has seen it end.
    """
    events.append(f"start {name}")
    starting = asyncio.current_task()
    assert starting is not None

    def interrupt(_: object) -> None:
        for task in interrupted:
            task.cancel()

    starting.add_done_callback(interrupt)
    try:
        yield Handle(name, needs)
    finally:
        events.append(f"stop {name}")


async def hang_and_fail_to_clean_up(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """A resource whose start never finishes and whose cleanup, once it is cancelled, raises."""
    events.append(f"start {name}")
    try:
        await asyncio.Event().wait()
        yield Handle(name, needs)  # never reached
    finally:
        events.append(f"cleanup {name}")
        raise CleanupFailed(f"{name} could not release its half-open connection")


async def time_out_on_connect(name: str, *needs: Handle) -> Handle:
    """A resource whose start fails at once with its own timeout (a client's connect timeout)."""
    events.append(f"start {name}")
    raise asyncio.TimeoutError(f"{name}: connection timeout to host")


async def fail_to_stop(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """A resource whose stop raises."""
    events.append(f"start {name}")
    yield Handle(name, needs)
    events.append(f"stop {name}")
    raise StopFailed(f"{name} could not flush")


async def hang_on_stop(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """A resource whose stop never finishes; records being abandoned when it is cancelled."""
    events.append(f"start {name}")
    try:
        yield Handle(name, needs)
    finally:
        events.append(f"stop {name}")
        try:
            await asyncio.Event().wait()
        finally:
            events.append(f"abandoned {name}")


async def keep_stopping_when_cancelled(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """A resource whose stop hangs and, cancelled, still goes on until :data:`holdout` releases
    it (as a client that ignores cancellation while it flushes)."""
    events.append(f"start {name}")
    try:
        yield Handle(name, needs)
    finally:
        events.append(f"stop {name}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append(f"cancelled {name}")
            await holdout.release.wait()
        events.append(f"stopped {name}")
        holdout.finished.set()


async def meet(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """A resource that starts only while another ``meet`` resource is starting too.

    Started one after the other, the first one waits :data:`MEETING_TIMEOUT` in vain and fails.
    """
    events.append(f"start {name}")
    meeting.in_progress += 1
    meeting.peak = max(meeting.peak, meeting.in_progress)
    if meeting.in_progress >= 2:
        meeting.everyone_here.set()
    try:
        await asyncio.wait_for(meeting.everyone_here.wait(), MEETING_TIMEOUT)
    except asyncio.TimeoutError:
        raise NotConcurrent(f"{name} was the only resource starting") from None
    finally:
        meeting.in_progress -= 1
    with _provided(name, needs) as handle:
        yield handle


# Containers -----------------------------------------------------------------------------------


class Simple(containers.DeclarativeContainer):
    """Two async resources, one needing the other, and a stock sync resource."""

    a = LifespanResource(tracked, "a")
    b = LifespanResource(tracked, "b", a)
    plain = providers.Resource(sync_tracked, "plain")


class FailingStart(containers.DeclarativeContainer):
    """c (needing b, needing a) cannot start."""

    a = LifespanResource(tracked, "a")
    b = LifespanResource(tracked, "b", a)
    c = LifespanResource(fail_to_start, "c", b)


class HangingStart(containers.DeclarativeContainer):
    """hang never finishes starting; a starts alongside it, after_hang would start after it."""

    a = LifespanResource(tracked, "a")
    hang = LifespanResource(hang_on_start, "hang")
    after_hang = LifespanResource(tracked, "after_hang", hang)


class FailingBesideHanging(containers.DeclarativeContainer):
    """c fails while hang, which does not need it, is still starting."""

    hang = LifespanResource(hang_on_start, "hang")
    c = LifespanResource(fail_to_start, "c")


class FailingSyncStart(containers.DeclarativeContainer):
    """sync, a stock sync resource needing a, cannot start."""

    a = LifespanResource(tracked, "a")
    sync = providers.Resource(sync_fail_to_start, "sync", a)


class FailingSyncStartAlone(containers.DeclarativeContainer):
    """sync, a stock sync resource needing another stock one, cannot start."""

    a = providers.Resource(sync_tracked, "a")
    sync = providers.Resource(sync_fail_to_start, "sync", a)


class InterruptedStart(containers.DeclarativeContainer):
    """plain's start is done at the moment the startup is cancelled."""

    plain = providers.Resource(start_as_the_startup_is_cancelled, "plain")


class FailingCleanup(containers.DeclarativeContainer):
    """hang never finishes starting, and its cleanup raises when it is cancelled."""

    a = LifespanResource(tracked, "a")
    hang = LifespanResource(hang_and_fail_to_clean_up, "hang")


class Cycle(containers.DeclarativeContainer):
    """a needs b and b needs a (closed below); c needs neither."""

    a = LifespanResource(tracked, "a")
    b = LifespanResource(tracked, "b", a)
    c = LifespanResource(tracked, "c")


# A declaration cannot name a provider declared after it; add_args can, and closes the cycle.
Cycle.a.add_args(Cycle.b)


class OwnTimeout(containers.DeclarativeContainer):
    """upstream fails at once with a TimeoutError of its own, long before any STARTUP_TIMEOUT."""

    a = LifespanResource(tracked, "a")
    upstream = LifespanResource(time_out_on_connect, "upstream", a)


class Diamond(containers.DeclarativeContainer):
    """base <- left, right (which must start concurrently) <- top."""

    base = LifespanResource(tracked, "base")
    left = LifespanResource(meet, "left", base)
    right = LifespanResource(meet, "right", base)
    top = LifespanResource(tracked, "top", left, right)


class FailingStop(containers.DeclarativeContainer):
    """broken raises and stuck hangs when stopped; both need base; other and plain are fine."""

    base = LifespanResource(tracked, "base")
    broken = LifespanResource(fail_to_stop, "broken", base)
    stuck = LifespanResource(hang_on_stop, "stuck", base)
    other = LifespanResource(tracked, "other")
    plain = providers.Resource(sync_tracked, "plain")


class StubbornStop(containers.DeclarativeContainer):
    """stubborn keeps stopping after it is cancelled; other stops normally."""

    stubborn = LifespanResource(keep_stopping_when_cancelled, "stubborn")
    other = LifespanResource(tracked, "other")


class Clients(containers.DeclarativeContainer):
    """The nested container of :class:`Nested`."""

    http = LifespanResource(tracked, "clients.http")
    cache = providers.Resource(sync_tracked, "clients.cache")


class Nested(containers.DeclarativeContainer):
    """A container nesting another, with a resource that needs a nested one."""

    clients = providers.Container(Clients)
    api = LifespanResource(tracked, "api", clients.http)


# Hooks (ON_STARTUP / ON_SHUTDOWN) for the Simple container --------------------------------------


def _describe(hook: str, resource: str) -> str:
    provider: Any = getattr(get_container(), resource)
    value = provider() if provider.initialized else None
    state = "open" if isinstance(value, Handle) and not value.closed else "not open"
    return f"{hook} ({resource} {state})"


# The sync hooks run in a worker thread, where only a sync resource can be provided; the async
# ones run on the event loop, where the LifespanResource started by the lifespan lives.


def sync_startup_hook() -> None:
    events.append(_describe("sync startup hook", "plain"))


async def async_startup_hook() -> None:
    events.append(_describe("async startup hook", "a"))


def sync_shutdown_hook() -> None:
    events.append(_describe("sync shutdown hook", "plain"))


async def async_shutdown_hook() -> None:
    events.append(_describe("async shutdown hook", "a"))


def failing_sync_hook() -> None:
    events.append("failing sync hook")
    raise HookFailed("the sync hook failed")


async def failing_async_hook() -> None:
    events.append("failing async hook")
    raise HookFailed("the async hook failed")


async def hanging_hook() -> None:
    events.append("hanging hook")
    await asyncio.Event().wait()


class Abort(BaseException):
    """A BaseException that is neither KeyboardInterrupt nor SystemExit (as gevent's Timeout)."""


async def cancel_itself(name: str, *needs: Handle) -> Handle:
    """A resource whose start ends in a CancelledError of its own (an inner task was cancelled)."""
    events.append(f"start {name}")
    raise asyncio.CancelledError(f"{name}: the handshake task was cancelled")


async def abort(name: str, *needs: Handle) -> Handle:
    """A resource whose start raises a BaseException that is not an Exception."""
    events.append(f"start {name}")
    raise Abort(f"{name} aborted")


class CancelledStart(containers.DeclarativeContainer):
    """b (needing a) ends its start in its own CancelledError."""

    a = LifespanResource(tracked, "a")
    b = LifespanResource(cancel_itself, "b", a)


class AbortedStart(containers.DeclarativeContainer):
    """b (needing a) raises a BaseException subclass."""

    a = LifespanResource(tracked, "a")
    b = LifespanResource(abort, "b", a)


async def fail_before_yield(name: str, *needs: Handle) -> AsyncIterator[Handle]:
    """An async generator initializer whose start raises before it yields."""
    events.append(f"start {name}")
    raise StartFailed(f"{name} could not connect")
    yield Handle(name, needs)  # never reached: it makes this an async generator


class FailingStockAsyncStart(containers.DeclarativeContainer):
    """broken, a stock async-generator Resource, cannot start."""

    broken = providers.Resource(fail_before_yield, "broken")
