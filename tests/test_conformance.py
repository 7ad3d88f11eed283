"""The run-mode conformance matrix, in-process: each injection style x each way Django runs a
view inside one process (its test clients and test case classes, this package's pytest
fixtures, plain sync code).

Every cell asks the style's view twice and checks (``tests/conformance/matrix.py``) that it got
the right object, that no loop had two instances, and, at teardown (after the cell's event
loops are closed), that every instance was closed and nothing was logged or warned.

The cells run the conformance project (``tests/conformance``) in this process, by
``override_settings`` of ``ROOT_URLCONF`` and ``DJANGO_LIFESPAN_DI`` (the library rebuilds its
container on that setting's change, and Django clears its URL caches on the other): each cell
gets a freshly built container, failures show the view's own traceback, and the suite's
warnings-as-errors applies as it is. The suite's own project is back after each cell.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import json
import logging
import re
import sys
import unittest
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest
from asgiref.sync import async_to_sync
from django.test import (
    AsyncClient,
    Client,
    RequestFactory,
    TestCase,
    TransactionTestCase,
    override_settings,
)

from tests.conformance import settings as conformance_settings
from tests.conformance.containers import EVENTS, opened_sessions
from tests.conformance.matrix import ASYNC_STYLES, STYLES, Answer, Style, check_answer
from tests.conformance.matrix import check_instances as check_instances_of
from tests.conformance.urls import STYLE_VIEWS
from tests.upstream import Upstream

RESOURCES = ("http_session", "bare_session", "httpx_client")
REQUESTS = 2
"""Requests per cell: a second one shows what a later request (on a later loop) gets."""
WATCHED_LOGGERS = ("asyncio", "aiohttp", "django_lifespan_di")
"""Where "Task was destroyed", "Unclosed client session", "could not close" ... are logged."""


def cells(mode: str, styles: tuple[Style, ...] = STYLES) -> list[Any]:
    """``style`` parameters whose ids read ``<style> x <mode>``."""
    return [pytest.param(style, id=f"{style} x {mode}") for style in styles]


@dataclass
class Cell:
    """What one cell saw: the views' answers, and whether a lifespan startup opened the
    resources (then one instance serves every request)."""

    answers: list[tuple[Style, Answer]] = field(default_factory=list)
    lifespan: bool = False

    def answer(self, style: Style, response: Any, **expected: Any) -> Answer:
        """Record the view's answer (a response, or a test client's) and check what it got."""
        assert response.status_code == 200, (style, response.status_code, response.content)
        answer: Answer = json.loads(response.content)
        self.answers.append((style, answer))
        check_answer(style, answer, **expected)
        return answer


SLOW_CALLBACK = re.compile(r"Executing <.*> took \d+\.\d+ seconds$", re.S)
"""asyncio's debug mode (PYTHONDEVMODE) on a callback slower than 0.1 s: a busy machine's
timing, not something the cell did wrong."""


@pytest.fixture(name="cell", autouse=True)
def fixture_cell(upstream_server: Upstream, caplog: pytest.LogCaptureFixture) -> Iterator[Cell]:
    """The conformance project for one cell; then every instance closed, one per loop, and
    nothing raised by a finaliser or logged by asyncio, aiohttp or the library.

    Autouse, so that it is set up before the event loop of an async cell (and the plugin's
    fixtures) and torn down after them: their loops are closed when it checks.
    """
    EVENTS.clear()
    cell = Cell()
    raised: list[str] = []
    previous, sys.unraisablehook = sys.unraisablehook, functools.partial(unraisable, raised)
    try:
        with override_settings(
            ROOT_URLCONF=conformance_settings.ROOT_URLCONF,
            DJANGO_LIFESPAN_DI=conformance_settings.DJANGO_LIFESPAN_DI,
            CONFORMANCE_UPSTREAM_URL=f"http://127.0.0.1:{upstream_server.port}",
        ):
            yield cell
        gc.collect()  # an unclosed session or a coroutine never awaited warns now
    finally:
        sys.unraisablehook = previous
    problems = raised
    try:
        check_instances_of(EVENTS, RESOURCES, answers=cell.answers, lifespan=cell.lifespan)
    except AssertionError as exc:
        problems.append(str(exc))
    tokens = {event["instance"] for event in EVENTS}
    problems.extend(
        f"session {token} still open after the cell"
        for token, session in opened_sessions().items()
        if token in tokens and not session.closed
    )
    records = [
        *caplog.get_records("setup"),
        *caplog.get_records("call"),
        *caplog.records,  # the teardown so far: the loops' closing
    ]
    problems.extend(
        f"logged by {record.name}: {record.getMessage()}"
        for record in records
        if record.levelno >= logging.WARNING
        and record.name.startswith(WATCHED_LOGGERS)
        and not SLOW_CALLBACK.match(record.getMessage())
    )
    assert not problems, "after the cell:\n" + "\n".join(problems)


def unraisable(raised: list[str], unraisable: Any) -> None:
    """``sys.unraisablehook`` during a cell: what a finaliser raised ("Unclosed client session",
    "coroutine ... was never awaited" under warnings-as-errors), as one line.

    Kept as text and reported by the cell itself: pytest's own hook keeps the exception (and so
    the object) alive, and reports it in the next test when this one's teardown fails.
    """
    message = unraisable.err_msg or "Exception ignored in"
    raised.append(
        f"{message} {unraisable.object!r}: "
        f"{type(unraisable.exc_value).__name__}: {unraisable.exc_value}"
    )


# -- Django's test clients ----------------------------------------------------------------------


@pytest.mark.parametrize("style", cells("Client"))
def test_sync_client(style: Style, cell: Cell) -> None:
    """Django's sync test Client (a new event loop for each async view it calls)."""
    client = Client()
    for _ in range(REQUESTS):
        cell.answer(style, client.get(style.path))


@pytest.mark.parametrize("style", cells("AsyncClient"))
@pytest.mark.asyncio
async def test_async_client(style: Style, cell: Cell) -> None:
    """Django's AsyncClient in an async test (the views run on the test's loop)."""
    client = AsyncClient()
    for _ in range(REQUESTS):
        cell.answer(style, await client.get(style.path))


# -- Django's test case classes -----------------------------------------------------------------


def run_test_case(base: type[TransactionTestCase], client: str, style: Style) -> list[Any]:
    """Run one test method of a ``base`` subclass that asks the view with ``self.<client>``,
    as unittest (and pytest-django) runs it, class set-up included; the responses."""
    responses: list[Any] = []

    class SyncCell(base):  # type: ignore[valid-type, misc]
        def test_cell(self) -> None:
            responses.extend(self.client.get(style.path) for _ in range(REQUESTS))

    class AsyncCell(base):  # type: ignore[valid-type, misc]
        async def test_cell(self) -> None:
            for _ in range(REQUESTS):
                responses.append(await self.async_client.get(style.path))

    case = (SyncCell if client == "client" else AsyncCell)("test_cell")
    result = unittest.TestResult()
    unittest.TestSuite([case]).run(result)
    problems = [text for _, text in [*result.errors, *result.failures]]
    assert not problems, f"{base.__name__}.{client}:\n" + "\n".join(problems)
    return responses


TEST_CASE_MODES = (
    (TestCase, "client"),
    (TestCase, "async_client"),
    (TransactionTestCase, "client"),
    (TransactionTestCase, "async_client"),
)


@pytest.mark.parametrize(
    ("style", "base", "client"),
    [
        pytest.param(style, base, client, id=f"{style} x {base.__name__}.{client}")
        for base, client in TEST_CASE_MODES
        for style in STYLES
    ],
)
@pytest.mark.django_db(transaction=True)
def test_django_test_case(
    style: Style, base: type[TransactionTestCase], client: str, cell: Cell
) -> None:
    """A method of a TestCase or TransactionTestCase asks the view with its client."""
    for response in run_test_case(base, client, style):
        cell.answer(style, response)


# -- this package's pytest fixtures -------------------------------------------------------------


@pytest.mark.parametrize("style", cells("lifespan_client"))
@pytest.mark.asyncio
async def test_lifespan_client_fixture(style: Style, cell: Cell, lifespan_client: Any) -> None:
    """``lifespan_client``: startup opens one instance, it serves all, shutdown closes it."""
    cell.lifespan = True
    opened = sorted(event["resource"] for event in EVENTS if event["event"] == "opened")
    assert opened == sorted(RESOURCES), f"the lifespan startup opened {opened}"
    for _ in range(REQUESTS):
        cell.answer(style, await lifespan_client.get(style.path))


@pytest.mark.parametrize("style", cells("override_provider"))
@pytest.mark.asyncio
async def test_override_provider_fixture(
    style: Style, cell: Cell, override_provider: Any, upstream_server: Upstream
) -> None:
    """``override_provider``: the view gets the test's object; the real resource is never opened."""
    client = AsyncClient()
    if style.kind == "value":
        value = {"text": "overridden"}
        override_provider(style.provider, value)
        for _ in range(REQUESTS):
            cell.answer(style, await client.get(style.path), expected_value=value)
    else:
        url = f"http://127.0.0.1:{upstream_server.port}"
        own: Any = (
            httpx.AsyncClient(base_url=url)
            if style.kind == "httpx"
            else aiohttp.ClientSession(base_url=url)
        )
        async with own as session:
            override_provider(style.provider, session)
            for _ in range(REQUESTS):
                cell.answer(style, await client.get(style.path), override=session)
    assert not EVENTS, f"an overridden resource was opened: {EVENTS}"


@pytest.mark.parametrize("style", cells("lifespan_container"))
@pytest.mark.asyncio
async def test_lifespan_container_fixture(
    style: Style, cell: Cell, lifespan_container: Any
) -> None:
    """``lifespan_container``: the views get what this container provides on the test's loop."""
    client = AsyncClient()
    answers = [cell.answer(style, await client.get(style.path)) for _ in range(REQUESTS)]
    if style.resource is None:
        assert getattr(lifespan_container, style.provider)() == answers[0]["got"]["value"]
        return
    provided = getattr(lifespan_container, style.resource)()
    instance = await provided if inspect.isawaitable(provided) else provided
    opened = [event for event in EVENTS if event["event"] == "opened"]
    assert [event["id"] for event in opened] == [id(instance)], (
        f"the views' {style.resource} is not the container's: {opened}"
    )


# -- plain sync code ----------------------------------------------------------------------------


def call(style: Style) -> Any:
    """The style's view, as ``urls.py`` routes to it."""
    return STYLE_VIEWS[style.name]


@pytest.mark.parametrize("style", cells("asyncio.run", ASYNC_STYLES))
def test_asyncio_run(style: Style, cell: Cell) -> None:
    """``asyncio.run(view(request))`` from sync code, a request from RequestFactory."""
    view = call(style)
    for _ in range(REQUESTS):
        cell.answer(style, asyncio.run(view(RequestFactory().get(style.path))))


@pytest.mark.parametrize("style", cells("async_to_sync", ASYNC_STYLES))
def test_async_to_sync(style: Style, cell: Cell) -> None:
    """``async_to_sync(view)(request)`` from sync code, a request from RequestFactory."""
    view = async_to_sync(call(style))
    for _ in range(REQUESTS):
        cell.answer(style, view(RequestFactory().get(style.path)))
