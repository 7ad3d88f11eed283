"""LifespanResource on its own: one instance per loop, created once, closed with its loop."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from dependency_injector import containers
from dependency_injector.wiring import Provide, inject, unwire

from django_lifespan_di import AsyncResourceRequiredError, LifespanResource
from django_lifespan_di.aiohttp import client_session
from tests.resource_helpers import Instance, Probe, ProbeError, counting_tasks

CONCURRENT_CALLERS = 1000


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
