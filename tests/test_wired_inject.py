"""dependency-injector's own ``@inject`` (with wiring) on the resources, with and without lifespan.

``test_inject.py`` covers ``django_lifespan_di.inject``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject, unwire
from django.test import AsyncClient, Client, override_settings

from django_lifespan_di import AsyncResourceRequiredError
from django_lifespan_di.asgi import STATE_KEY
from tests.driver import drive_lifespan
from tests.project.urls import SyncViewUrls
from tests.resource_helpers import counting_tasks

CALLS = 200
REQUESTS = 20


@inject
async def injected_session(session: Any = Provide["http_session"]) -> Any:
    """What an @inject-ed coroutine function gets as the project's ``http_session``."""
    return session


@inject
async def injected_stock(value: Any = Provide["stock"]) -> Any:
    """What an @inject-ed coroutine function gets from a stock ``providers.Resource``."""
    return value


async def open_stock_value() -> object:
    return object()


@pytest.fixture(name="wired")
def fixture_wired(container: Any) -> Iterator[Any]:
    """The test's container, also wired to this module's injected functions."""
    container.wire(modules=[sys.modules[__name__]])
    yield container
    unwire(modules=[sys.modules[__name__]])


@pytest.fixture(name="session_recorder")
def fixture_session_recorder(container: Any) -> list[aiohttp.ClientSession]:
    """Every session that makes a request, recorded (and kept alive) through a trace hook."""
    sessions: list[aiohttp.ClientSession] = []

    async def on_request_start(session: aiohttp.ClientSession, *_: object) -> None:
        sessions.append(session)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    container.http_session.add_kwargs(trace_configs=[trace])
    return sessions


def started_session(run: Any) -> aiohttp.ClientSession:
    session: aiohttp.ClientSession = run.state[STATE_KEY]["http_session"]
    assert isinstance(session, aiohttp.ClientSession)
    return session


async def assert_given_as_is(wired: Any, value: object) -> None:
    """The ``http_session`` provider gives ``value`` itself (not a future), and so does @inject."""
    provided = wired.http_session()
    assert not inspect.isawaitable(provided)
    assert provided is value
    assert await injected_session() is value


@pytest.mark.usefixtures("upstream")
def test_each_request_loop_of_the_sync_client_gets_its_own_session_closed_with_it(
    session_recorder: list[aiohttp.ClientSession], caplog: pytest.LogCaptureFixture
) -> None:
    """20 requests, each in a fresh event loop: 20 sessions, all used once and all closed."""
    client = Client()

    with caplog.at_level(logging.DEBUG):
        responses = [client.get("/proxy") for _ in range(REQUESTS)]

    assert [response.status_code for response in responses] == [200] * REQUESTS
    assert len(session_recorder) == REQUESTS
    assert len({id(session) for session in session_recorder}) == REQUESTS
    assert [response.json()["session"] for response in responses] == [
        id(session) for session in session_recorder
    ]
    assert [session.closed for session in session_recorder] == [True] * REQUESTS
    problems = [
        record.getMessage()
        for record in caplog.records
        if "Session is closed" in record.getMessage()
        or "Event loop is closed" in record.getMessage()
        or "Unclosed" in record.getMessage()
    ]
    assert problems == []


@pytest.mark.asyncio
async def test_injecting_the_started_resource_creates_no_task(wired: Any) -> None:
    """After lifespan startup, 200 injections of the session create not a single Task."""
    async with drive_lifespan() as run:
        session = started_session(run)
        with counting_tasks(asyncio.get_running_loop()) as tasks:
            values = [await injected_session() for _ in range(CALLS)]

        assert tasks == []
        assert all(value is session for value in values)


@pytest.mark.asyncio
async def test_injecting_a_stock_async_resource_creates_a_task_per_call() -> None:
    """Control: a stock providers.Resource, once initialised, still costs a Task per injection."""
    container = containers.DynamicContainer()
    container.stock = providers.Resource(open_stock_value)
    container.wire(modules=[sys.modules[__name__]])
    try:
        await container.init_resources()
        value = await container.stock()
        with counting_tasks(asyncio.get_running_loop()) as tasks:
            values = [await injected_stock() for _ in range(CALLS)]

        assert all(item is value for item in values)
        assert len(tasks) >= CALLS
    finally:
        unwire(modules=[sys.modules[__name__]])
        await container.shutdown_resources()


@pytest.mark.parametrize("path", ["/proxy", "/cbv", "/by-name"])
@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream", "container")
async def test_views_get_the_session_started_by_lifespan(path: str) -> None:
    """Function views, class-based view methods and string markers all get the started session."""
    async with drive_lifespan() as run:
        session = started_session(run)

        response = await AsyncClient().get(path)

        assert response.status_code == 200
        assert response.json()["session"] == id(session)
    assert session.closed


@pytest.mark.asyncio
@pytest.mark.usefixtures("container")
async def test_sync_view_asking_for_the_async_resource_is_told_to_be_async() -> None:
    """Under the async client, a sync view fails with advice to declare it `async def`."""
    async with drive_lifespan():
        with (
            pytest.raises(AsyncResourceRequiredError, match="async def") as caught,
            override_settings(ROOT_URLCONF=SyncViewUrls),
        ):
            await AsyncClient(raise_request_exception=True).get("/sync")

    assert "view" in str(caught.value)


@pytest.mark.usefixtures("container")
def test_sync_view_under_the_sync_client_is_told_to_be_async() -> None:
    """Under the sync client (no loop at all), a sync view fails with the same advice."""
    with (
        pytest.raises(AsyncResourceRequiredError, match="async def") as caught,
        override_settings(ROOT_URLCONF=SyncViewUrls),
    ):
        Client(raise_request_exception=True).get("/sync")

    assert "view" in str(caught.value)


@pytest.mark.asyncio
async def test_override_before_startup_is_injected_as_a_plain_object(wired: Any) -> None:
    """An Object override set before startup is injected as is (not a future), during lifespan."""
    fake = object()
    wired.http_session.override(providers.Object(fake))
    try:
        assert wired.http_session() is fake
        async with drive_lifespan():
            await assert_given_as_is(wired, fake)
    finally:
        wired.http_session.reset_override()


@pytest.mark.asyncio
async def test_lifespan_startup_does_not_start_an_overridden_resource(wired: Any) -> None:
    """Like providers.Resource.init(), startup of an overridden resource yields the override."""
    fake = object()
    with wired.http_session.override(providers.Object(fake)):
        async with drive_lifespan() as run:
            assert run.types == ["lifespan.startup.complete"]
            assert run.state[STATE_KEY]["http_session"] is fake
            assert not wired.http_session.initialized


@pytest.mark.asyncio
async def test_after_reset_override_lifespan_starts_and_closes_a_real_session(
    wired: Any,
) -> None:
    """Once the override is reset, lifespan starts a real session, injects it and closes it."""
    fake = object()
    with wired.http_session.override(providers.Object(fake)):
        assert await injected_session() is fake

    async with drive_lifespan() as run:
        session = started_session(run)
        assert await injected_session() is session
        assert not session.closed

    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert session.closed


@pytest.mark.asyncio
async def test_override_after_a_lazy_first_use_is_still_a_plain_object(wired: Any) -> None:
    """An Object override set after a first use that had to await is not turned into a future."""
    fake = object()
    session = await injected_session()
    try:
        with wired.http_session.override(providers.Object(fake)):
            await assert_given_as_is(wired, fake)
        assert wired.http_session() is session
    finally:
        await wired.http_session.shutdown()
    assert session.closed


@pytest.mark.asyncio
async def test_override_after_startup_is_injected_then_the_session_comes_back(
    wired: Any,
) -> None:
    """An Object override set after startup is injected as is; after reset, the session again."""
    fake = object()
    async with drive_lifespan() as run:
        session = started_session(run)

        with wired.http_session.override(providers.Object(fake)):
            await assert_given_as_is(wired, fake)

        assert wired.http_session() is session
        assert await injected_session() is session
    assert session.closed
