"""LifespanResource on its own: one instance per loop, created once, closed with its loop."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from dependency_injector import containers, errors
from dependency_injector.wiring import Provide, inject, unwire

from django_lifespan_di import AsyncResourceRequiredError, LifespanResource
from django_lifespan_di._resource import _close_all_at_exit
from django_lifespan_di.aiohttp import client_session
from tests.resource_helpers import Instance, Probe, ProbeError, counting_tasks

CONCURRENT_CALLERS = 1000

T = TypeVar("T")


@inject
async def injected_instance(instance: Instance = Provide["probed"]) -> Instance:
    """What an @inject-ed coroutine function gets from the container."""
    return instance


async def call_provider(resource: LifespanResource[Instance]) -> Instance:
    value: Instance = await resource()
    return value


async def call_injected(resource: LifespanResource[Instance]) -> Instance:
    return await injected_instance()


# How a first use reaches the resource: a direct provider call, or an @inject-ed function.
USES = pytest.mark.parametrize(
    "use", [call_provider, call_injected], ids=["provider-call", "injected-function"]
)

Use = Callable[[LifespanResource[Instance]], Awaitable[Instance]]


@pytest.fixture(name="probe")
def fixture_probe() -> Probe:
    """A gated initializer: each start waits until the test opens ``probe.gate``."""
    return Probe()


@pytest_asyncio.fixture(name="resource")
async def fixture_resource(probe: Probe) -> AsyncIterator[LifespanResource[Instance]]:
    """A LifespanResource over ``probe``, in a container wired to this module; shut down after."""
    resource: LifespanResource[Instance] = LifespanResource(probe.open)
    container = containers.DynamicContainer()
    container.probed = resource
    container.wire(modules=[sys.modules[__name__]])
    try:
        yield resource
    finally:
        unwire(modules=[sys.modules[__name__]])
        probe.gate.set()
        await resource.shutdown()


@USES
@pytest.mark.asyncio
async def test_concurrent_first_uses_create_exactly_one_instance(
    resource: LifespanResource[Instance], probe: Probe, use: Use
) -> None:
    """1000 callers arriving while the first start is in progress all share that one start."""
    callers = [asyncio.ensure_future(use(resource)) for _ in range(CONCURRENT_CALLERS)]
    await probe.entered.wait()
    assert not any(caller.done() for caller in callers), "a caller finished before the start"

    probe.gate.set()
    instances = await asyncio.gather(*callers)

    assert probe.starts == 1
    assert {id(instance) for instance in instances} == {id(probe.instances[0])}
    assert resource.initialized


@USES
@pytest.mark.asyncio
async def test_cancelled_first_caller_does_not_fail_the_others(
    resource: LifespanResource[Instance], probe: Probe, use: Use
) -> None:
    """Cancelling the caller that triggered the start leaves the start running for the rest."""
    first = asyncio.ensure_future(use(resource))
    await probe.entered.wait()
    # The others are scheduled before the cancellation reaches ``first``, so they are all
    # waiting on the start in progress when it does.
    others = [asyncio.ensure_future(use(resource)) for _ in range(10)]
    first.cancel()

    probe.gate.set()
    instances = await asyncio.gather(*others)

    with pytest.raises(asyncio.CancelledError):
        await first
    assert probe.starts == 1
    assert all(instance is probe.instances[0] for instance in instances)
    assert not probe.instances[0].closed


@USES
@pytest.mark.asyncio
async def test_start_outlives_its_only_cancelled_caller(
    resource: LifespanResource[Instance], probe: Probe, use: Use
) -> None:
    """A start whose only caller is cancelled still completes, and the next caller reuses it."""
    first = asyncio.ensure_future(use(resource))
    await probe.entered.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    probe.gate.set()
    instance = await use(resource)

    assert probe.starts == 1
    assert instance is probe.instances[0]


@USES
@pytest.mark.asyncio
async def test_failed_start_is_not_cached_and_next_caller_retries(
    resource: LifespanResource[Instance], probe: Probe, use: Use
) -> None:
    """Every waiter of a failed start gets its error; the next caller starts afresh."""
    probe.failures = 1
    callers = [asyncio.ensure_future(use(resource)) for _ in range(5)]
    await probe.entered.wait()
    probe.gate.set()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)

    assert all(isinstance(outcome, ProbeError) for outcome in outcomes), outcomes
    assert not resource.initialized

    instance = await use(resource)

    assert probe.starts == 2
    assert instance.start == 2
    assert resource.initialized


@pytest.mark.asyncio
async def test_ready_instance_is_provided_as_a_plain_value(
    resource: LifespanResource[Instance], probe: Probe
) -> None:
    """Once started on this loop, calling the provider returns the instance, not an awaitable."""
    probe.gate.set()
    instance = await resource()

    provided = resource()

    assert not inspect.isawaitable(provided)
    assert provided is instance


@pytest.mark.asyncio
async def test_injecting_a_lazily_started_instance_creates_no_task(
    resource: LifespanResource[Instance], probe: Probe
) -> None:
    """Once the first use on a loop has started the instance, injecting it costs no Task."""
    probe.gate.set()
    instance = await injected_instance()

    with counting_tasks(asyncio.get_running_loop()) as tasks:
        instances = [await injected_instance() for _ in range(200)]

    assert tasks == []
    assert all(item is instance for item in instances)


@pytest.mark.asyncio
async def test_shutdown_closes_the_instance_and_the_next_use_starts_a_new_one(
    resource: LifespanResource[Instance], probe: Probe
) -> None:
    """After shutdown() the instance is closed and forgotten; the next use starts another."""
    probe.gate.set()
    first = await resource()

    await resource.shutdown()

    assert first.closed
    assert not resource.initialized
    second = await resource()
    assert second is not first
    assert probe.starts == 2


def test_provider_call_without_a_running_loop_explains_what_to_do() -> None:
    """Asking for the async resource where no loop runs raises, telling to use `async def`."""
    resource: LifespanResource[Any] = LifespanResource(client_session)

    with pytest.raises(AsyncResourceRequiredError, match="async def"):
        resource()


def test_sync_initializer_is_refused() -> None:
    """A sync generator initializer is refused at declaration, pointing at providers.Resource."""

    def sync_initializer() -> Iterator[object]:
        yield object()

    with pytest.raises(TypeError, match=r"providers\.Resource"):
        LifespanResource(sync_initializer)


def test_instance_is_closed_when_its_asyncio_run_loop_finishes() -> None:
    """An instance created inside asyncio.run() is closed by that loop's shutdown_asyncgens."""
    resource: LifespanResource[Any] = LifespanResource(client_session)

    async def first_use() -> Any:
        return await resource()

    session = asyncio.run(first_use())

    assert session.closed
    assert not resource.initialized


def test_each_asyncio_run_loop_gets_and_closes_its_own_instance() -> None:
    """Two loops in a row get two different instances, each closed with its own loop."""
    probe = Probe(gated=False)
    resource: LifespanResource[Instance] = LifespanResource(probe.open)

    async def first_use() -> Instance:
        instance: Instance = await resource()
        assert not instance.closed
        return instance

    first = asyncio.run(first_use())
    second = asyncio.run(first_use())

    assert first is not second
    assert probe.starts == 2
    assert first.closed
    assert second.closed


def test_leftover_instance_of_a_stopped_loop_is_closed_at_exit() -> None:
    """A loop stopped without shutdown keeps its instance open until _close_leftovers()."""
    resource: LifespanResource[Any] = LifespanResource(client_session)

    async def first_use() -> Any:
        return await resource()

    loop = asyncio.new_event_loop()
    try:
        session = loop.run_until_complete(first_use())
        assert not session.closed

        resource._close_leftovers()

        assert session.closed
        assert not resource.initialized
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.mark.asyncio
async def test_started_resource_cannot_be_copied_until_it_is_shut_down(
    resource: LifespanResource[Instance], probe: Probe
) -> None:
    """As with providers.Resource, a deepcopy (a container copy) of a resource holding an
    instance is refused; once shut down it can be copied again."""
    probe.gate.set()
    await resource()

    with pytest.raises(errors.Error, match="Can not copy initialized resource"):
        copy.deepcopy(resource)

    await resource.shutdown()
    copied = copy.deepcopy(resource)
    assert isinstance(copied, LifespanResource)
    assert copied is not resource


@pytest.mark.parametrize(
    ("method", "advice"),
    [
        ("init", "await its init() inside a running event loop"),
        ("shutdown", "await its shutdown() inside the event loop that started it"),
    ],
)
def test_init_and_shutdown_without_a_running_loop_explain_what_to_do(
    method: str, advice: str
) -> None:
    """init() and shutdown() called where no loop runs raise at once, saying where to await them."""
    resource: LifespanResource[Any] = LifespanResource(client_session)

    with pytest.raises(AsyncResourceRequiredError, match=re.escape(advice)):
        getattr(resource, method)()


@pytest.mark.asyncio
async def test_initializer_returning_a_sync_context_manager_fails_the_start() -> None:
    """An initializer that returns a sync context manager (a @contextmanager function) fails its
    start with a TypeError pointing at providers.Resource; nothing is left started."""
    entered: list[object] = []

    @contextlib.contextmanager
    def sync_session() -> Iterator[object]:
        entered.append(object())
        yield entered[-1]

    resource: LifespanResource[Any] = LifespanResource(sync_session)

    with pytest.raises(TypeError, match=r"produced a sync context manager .*providers\.Resource"):
        await resource()

    assert entered == []
    assert not resource.initialized


@pytest.mark.asyncio
async def test_coroutine_initializer_result_is_the_instance_until_shutdown() -> None:
    """A coroutine function's return value is the instance (there is nothing to close); shutdown
    forgets it, and the next use calls the function again."""
    made: list[Instance] = []

    async def connect() -> Instance:
        made.append(Instance(len(made) + 1))
        return made[-1]

    resource: LifespanResource[Instance] = LifespanResource(connect)
    first = await resource()
    assert resource() is first

    await resource.shutdown()

    assert not resource.initialized
    second = await resource()
    assert second is not first
    assert made == [first, second]
    await resource.shutdown()


@pytest.mark.asyncio
async def test_first_use_of_a_resource_starts_the_resource_it_needs() -> None:
    """Without lifespan, the first use of a resource that needs another one starts that one on
    the same loop and builds the first from its instance."""
    probe = Probe(gated=False)
    base: LifespanResource[Instance] = LifespanResource(probe.open)

    async def client_of(instance: Instance) -> tuple[str, Instance]:
        return ("client of", instance)

    dependent: LifespanResource[tuple[str, Instance]] = LifespanResource(client_of, base)
    try:
        value = await dependent()

        assert base.initialized
        assert value == ("client of", probe.instances[0])
        assert base() is probe.instances[0]
    finally:
        await dependent.shutdown()
        await base.shutdown()
    assert probe.instances[0].closed


@pytest.mark.asyncio
async def test_shutdown_caller_cancelled_while_stopping_a_start_gets_its_cancellation() -> None:
    """A shutdown() cancelled while it waits for the start it is cancelling raises CancelledError
    to its caller, even when that start ends without being cancelled (it ignored it)."""
    starting: list[asyncio.Task[Any]] = []
    entered = asyncio.Event()

    async def open_despite_cancellation() -> AsyncIterator[Instance]:
        task = asyncio.current_task()
        assert task is not None
        starting.append(task)
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # finishes opening all the same
            await asyncio.Event().wait()
        instance = Instance(1)
        try:
            yield instance
        finally:
            instance.closed = True

    resource: LifespanResource[Instance] = LifespanResource(open_despite_cancellation)
    first_use = asyncio.ensure_future(resource())
    await entered.wait()
    closing = asyncio.ensure_future(resource.shutdown())
    # The caller of shutdown() is cancelled as the start ends, before it has seen it end.
    starting[0].add_done_callback(lambda _: closing.cancel())

    with pytest.raises(asyncio.CancelledError):
        await closing

    assert closing.cancelled()
    instance = await first_use
    assert resource.initialized, "the start that ignored its cancellation is up"
    await resource.shutdown()
    assert instance.closed


# At interpreter exit ---------------------------------------------------------------------------


class Connection:
    """An async context manager (not a generator) standing for a client: entered, then closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.closed = True


@contextlib.contextmanager
def stopped_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop that is not running, as one left behind by a thread that exited; closed after."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def use_of(resource: LifespanResource[T]) -> T:
    """The instance of ``resource`` on the running loop (so it can run in a stopped loop)."""
    value: T = await resource()
    return value


async def shutdown_of(resource: LifespanResource[Any]) -> None:
    await resource.shutdown()


def library_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The library's log messages at ``level``, each with its traceback (if any)."""
    formatter = logging.Formatter("%(message)s")
    return [
        formatter.format(record)
        for record in caplog.records
        if record.name == "django_lifespan_di" and record.levelno == level
    ]


def test_at_exit_every_resource_left_open_on_a_stopped_loop_is_closed() -> None:
    """The function registered with atexit closes the instances of every resource whose loop
    was stopped without shutting them down."""
    probes = [Probe(gated=False), Probe(gated=False)]
    resources: list[LifespanResource[Instance]] = [LifespanResource(p.open) for p in probes]

    async def first_uses() -> list[Instance]:
        return [await resource() for resource in resources]

    with stopped_loop() as loop:
        instances = loop.run_until_complete(first_uses())
        assert not any(instance.closed for instance in instances)

        _close_all_at_exit()

        assert all(instance.closed for instance in instances)
        assert not any(resource.initialized for resource in resources)


def test_at_exit_a_start_still_in_progress_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    """At exit, a start that never finished is neither awaited (it could hang the exit) nor
    reported; there is no instance to close."""
    probe = Probe()
    resource: LifespanResource[Instance] = LifespanResource(probe.open)

    async def begin_first_use() -> asyncio.Future[Instance]:
        use = asyncio.ensure_future(resource())
        await probe.entered.wait()
        return use

    with stopped_loop() as loop:
        use = loop.run_until_complete(begin_first_use())

        resource._close_leftovers()

        assert not use.done()
        assert probe.instances == []
        assert library_records(caplog, logging.WARNING) == []
        loop.run_until_complete(shutdown_of(resource))
        loop.run_until_complete(asyncio.wait({use}))
        assert use.cancelled()


def test_a_plain_loop_close_closes_the_loops_instances_first() -> None:
    """``loop.close()`` without ``shutdown_asyncgens()`` (a hand-written worker) still closes
    the instances the loop created, and the resource forgets the loop."""
    connection = Connection()
    resource: LifespanResource[Connection] = LifespanResource(lambda: connection)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(use_of(resource))

    loop.close()
    loop.close()  # closing again does nothing, as asyncio's own close

    assert connection.closed
    assert loop.is_closed()
    assert resource._states == {}


class _UnpatchableLoop(asyncio.SelectorEventLoop):
    """A loop whose methods cannot be replaced on the instance, as uvloop's."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "close":
            raise AttributeError(name)
        super().__setattr__(name, value)


def test_at_exit_an_instance_of_a_closed_loop_is_reported_not_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An instance whose loop (of a type that cannot be watched) was closed without shutting it
    down cannot be closed at exit; a warning names the resource and the reason."""
    connection = Connection()
    resource: LifespanResource[Connection] = LifespanResource(lambda: connection)
    loop = _UnpatchableLoop()
    loop.run_until_complete(use_of(resource))
    generator = resource._states[loop].generator
    loop.close()
    try:
        resource._close_leftovers()

        assert not connection.closed
        warnings = library_records(caplog, logging.WARNING)
        assert warnings == [f"could not close {resource!r} at exit: its event loop is closed"]
    finally:
        # Close it on another loop, so that its finalizer does not call on the closed one.
        assert generator is not None
        asyncio.run(generator.aclose())
    assert connection.closed


@pytest.mark.asyncio
async def test_at_exit_an_instance_of_a_running_loop_is_reported_not_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An instance whose loop is still running (in another thread, at exit) is not closed from
    under it; a warning names the resource and the reason."""
    probe = Probe(gated=False)
    resource: LifespanResource[Instance] = LifespanResource(probe.open)
    instance = await resource()

    resource._close_leftovers()

    assert not instance.closed
    warnings = library_records(caplog, logging.WARNING)
    assert warnings == [f"could not close {resource!r} at exit: its event loop is still running"]
    await resource.shutdown()
    assert instance.closed


def test_at_exit_an_instance_failing_to_close_is_logged_and_the_rest_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An instance whose closing raises at exit is logged with its traceback; exit goes on."""

    async def open_then_fail_to_flush() -> AsyncIterator[Instance]:
        yield Instance(1)
        raise ProbeError("the buffer could not be flushed")

    resource: LifespanResource[Instance] = LifespanResource(open_then_fail_to_flush)
    with stopped_loop() as loop:
        loop.run_until_complete(use_of(resource))

        resource._close_leftovers()

        assert not resource.initialized
    errors = library_records(caplog, logging.ERROR)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"closing {resource!r} at exit failed")
    assert "ProbeError: the buffer could not be flushed" in errors[0]
