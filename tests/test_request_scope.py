"""Request-scoped providers (``RequestResource``): one instance per request, closed when the
response is finished, in reverse order of creation, whatever way the request ends."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import django
import pytest
from dependency_injector import providers
from dependency_injector.wiring import Provide
from django.core.checks import run_checks
from django.http import HttpRequest
from django.test import AsyncClient, Client, override_settings

from django_lifespan_di import (
    CurrentRequest,
    RequestResource,
    RequestScopeError,
    get_container,
    inject,
    request_scope,
)
from django_lifespan_di import _request_scope as scopes
from django_lifespan_di.aiohttp import OriginError, client_session, request_session
from django_lifespan_di.asgi import LifespanASGIHandler
from django_lifespan_di.exceptions import AsyncResourceRequiredError
from django_lifespan_di.testing import override_providers
from tests.driver import http_scope
from tests.request_scope_project import settings as project_settings
from tests.request_scope_project.containers import EVENTS, Container, Tracked
from tests.upstream import Upstream

DEADLINE = 10.0


@pytest.fixture(name="project", autouse=True)
def fixture_project(upstream: Upstream) -> Iterator[Upstream]:
    """The request-scope project, its events cleared; every instance closed at the end."""
    EVENTS.clear()
    with override_settings(
        ROOT_URLCONF=project_settings.ROOT_URLCONF,
        MIDDLEWARE=project_settings.MIDDLEWARE,
        DJANGO_LIFESPAN_DI=project_settings.DJANGO_LIFESPAN_DI,
    ):
        yield upstream
    EVENTS.clear()


def events(kind: str | None = None) -> list[tuple[str, str, Any]]:
    """(event, name, error) of what the instances recorded, optionally of one kind."""
    return [
        (each["event"], each["name"], each.get("error"))
        for each in EVENTS
        if kind is None or each["event"] == kind
    ]


async def eventually(condition: Any, what: str) -> None:
    """Poll ``condition`` on the loop until it holds (fail after DEADLINE seconds)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE} s: {EVENTS}")
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_an_instance_serves_the_whole_request_and_is_closed_after_it() -> None:
    """Two injections in one request get one instance; the next request gets a new one."""
    first = (await AsyncClient().get("/plain")).json()["serials"]
    second = (await AsyncClient().get("/plain")).json()["serials"]
    assert first[0] == first[1]
    assert second[0] == second[1] != first[0]
    assert events() == [
        ("opened", "first", None),
        ("closed", "first", None),
        ("opened", "first", None),
        ("closed", "first", None),
    ]


@pytest.mark.asyncio
async def test_dependency_injector_inject_with_wiring_gets_the_request_instance() -> None:
    """dependency-injector's own @inject (wired) resolves a RequestResource too."""
    response = await AsyncClient().get("/wired")
    assert response.status_code == 200, response.content
    assert events() == [("opened", "first", None), ("closed", "first", None)]


def test_the_sync_test_client_runs_the_scope_in_the_view_s_loop() -> None:
    """Under WSGI (the sync Client) the instance is created and closed in the request."""
    response = Client().get("/plain")
    assert response.status_code == 200, response.content
    assert events() == [("opened", "first", None), ("closed", "first", None)]


@pytest.mark.asyncio
async def test_a_request_that_uses_none_creates_nothing() -> None:
    """A request that asks for no request-scoped provider leaves its scope unused."""
    seen: list[scopes.RequestScope | None] = []
    original = scopes.enter

    def spy(request: Any) -> Any:
        scope, token = original(request)
        seen.append(scope)
        return scope, token

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scopes, "enter", spy)
        response = await AsyncClient().get("/unused")
    assert response.status_code == 200
    assert [scope.used for scope in seen if scope is not None] == [False]
    assert events() == []


@pytest.mark.asyncio
async def test_instances_close_in_reverse_order_of_creation() -> None:
    """A request instance built from another is closed before the one it needs."""
    await AsyncClient().get("/ordered")
    assert events() == [
        ("opened", "first", None),
        ("opened", "second", None),
        ("closed", "second", None),
        ("closed", "first", None),
    ]


@pytest.mark.asyncio
async def test_a_streaming_response_closes_the_instances_after_its_last_chunk() -> None:
    """The stream's iterator uses the instance; the clean-up comes after the last chunk."""
    response = await AsyncClient().get("/stream")
    body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"
    await eventually(lambda: ("closed", "first", None) in events(), "the clean-up")
    assert [event for event, _, _ in events()] == ["opened", "chunk", "chunk", "chunk", "closed"]


@pytest.mark.asyncio
async def test_a_view_error_reaches_the_clean_up_and_still_gets_its_500() -> None:
    """The view's exception is passed to the instance's exit (a transaction rolls back)."""
    response = await AsyncClient(raise_request_exception=False).get("/error")
    assert response.status_code == 500
    assert events() == [("opened", "first", None), ("closed", "first", "ValueError")]


@pytest.mark.asyncio
async def test_a_failing_clean_up_is_logged_by_name_and_hides_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A clean-up that raises is logged naming the provider; the others still close."""
    with caplog.at_level(logging.ERROR, logger="django_lifespan_di"):
        response = await AsyncClient().get("/broken")
    assert response.status_code == 200
    assert events() == [("opened", "first", None), ("closed", "first", None)]
    (failure,) = [r for r in caplog.records if r.name == "django_lifespan_di"]
    assert failure.getMessage() == "closing the request-scoped 'broken' failed"
    assert failure.resource == "'broken'"  # type: ignore[attr-defined]
    assert failure.exc_info is not None
    assert "clean-up broke" in str(failure.exc_info[1])


@pytest.mark.asyncio
async def test_concurrent_first_uses_in_one_request_create_one_instance() -> None:
    """Ten concurrent first uses wait for one creation and get the same instance."""
    serials = (await AsyncClient().get("/concurrent")).json()["serials"]
    assert len(set(serials)) == 1
    assert events() == [("opened", "slow", None)]


@pytest.mark.asyncio
async def test_an_override_replaces_the_request_instance() -> None:
    """override_providers replaces a RequestResource like any provider."""
    fake = Tracked("fake", None)
    with override_providers(first=fake):
        serials = (await AsyncClient().get("/plain")).json()["serials"]
    assert serials == [fake.serial, fake.serial]
    assert events() == []


# Django cancels the view on a client disconnect from 5.0 on; before, the view runs on.
@pytest.mark.skipif(
    django.VERSION < (5, 0), reason="Django < 5.0 does not listen for a client disconnect"
)
@pytest.mark.asyncio
async def test_a_client_disconnect_cancels_the_view_and_closes_its_instances(
    project: Upstream,
) -> None:
    """Django cancels the view on http.disconnect; the clean-up still runs, with the
    CancelledError."""
    app = LifespanASGIHandler()
    disconnect = asyncio.Event()
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        if received == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("/hold")
    serving = asyncio.create_task(app(scope, receive, send))
    try:
        await project.wait_until_held()
        disconnect.set()
        await asyncio.wait_for(serving, DEADLINE)
    finally:
        project.release()
    assert sent == []
    assert events() == [
        ("opened", "first", None),
        ("holding", "first", None),
        ("closed", "first", "CancelledError"),
    ]


@pytest.mark.asyncio
async def test_per_request_sessions_keep_each_user_s_cookies_to_their_request() -> None:
    """A cookie the upstream set in alice's request is not sent on bob's; within her
    request it is."""
    alice = (await AsyncClient().get("/cookies", {"user": "alice"})).json()
    bob = (await AsyncClient().get("/cookies")).json()
    assert alice == {"cookie": "sid=secret-of-alice"}
    assert bob == {"cookie": ""}


@pytest.mark.asyncio
async def test_control_a_shared_cookie_jar_leaks_one_user_s_cookie_to_the_next() -> None:
    """The control: one shared session with a real jar sends alice's cookie for bob."""
    await AsyncClient().get("/shared-jar-cookies", {"user": "alice"})
    bob = (await AsyncClient().get("/shared-jar-cookies")).json()
    assert bob == {"cookie": "sid=secret-of-alice"}


@pytest.mark.asyncio
async def test_per_request_sessions_share_the_pool_and_leave_it_open(project: Upstream) -> None:
    """Sequential requests of per-request sessions reuse one pooled connection."""
    for user in ("alice", "bob", "carol"):
        assert (await AsyncClient().get("/cookies", {"user": user})).status_code == 200
    assert len(project.connections) == 1, project.connections
    shared = get_container().http_session()  # started on this loop: the instance itself
    assert not shared.closed
    assert not shared.connector.closed


@pytest.mark.asyncio
async def test_a_per_request_session_has_the_shared_defaults(project: Upstream) -> None:
    """base_url, timeout, headers and the origin guard are the shared session's."""
    timeout = aiohttp.ClientTimeout(total=7)
    lifetime = client_session(base_url=project.url, timeout=timeout, headers={"X-Api": "k"})
    shared = await lifetime.__anext__()
    try:
        session_lifetime = request_session(shared)
        session = await session_lifetime.__anext__()
        assert session.timeout == timeout
        assert session.connector is shared.connector
        async with session.get("/echo") as response:
            assert response.status == 200
        assert project.log[-1].headers["x-api"] == "k"
        with pytest.raises(OriginError):
            await session.get(f"{project.other_origin_url}/echo")
        with contextlib.suppress(StopAsyncIteration):
            await session_lifetime.__anext__()
        assert session.closed
        assert not shared.connector.closed
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await lifetime.__anext__()


@pytest.mark.asyncio
async def test_request_session_refuses_a_session_client_session_did_not_make() -> None:
    """Its defaults are client_session's: another session is a TypeError saying so."""
    async with aiohttp.ClientSession() as other:
        with pytest.raises(TypeError, match=r"Declare the shared session as LifespanResource"):
            await request_session(other).__anext__()


@pytest.mark.asyncio
async def test_outside_a_request_a_request_resource_is_a_clear_error() -> None:
    """Without a scope, the error names the middleware and request_scope()."""
    with pytest.raises(
        RequestScopeError,
        match=r"'first' is request-scoped.*RequestScopeMiddleware.*request_scope\(\)",
    ):
        await get_container().first()
    with pytest.raises(RequestScopeError, match="CurrentRequest provides the request"):
        get_container().request()


@pytest.mark.asyncio
async def test_request_scope_gives_code_outside_a_request_its_own_scope() -> None:
    """``async with request_scope():`` creates instances for the block and closes them."""
    container = get_container()
    async with request_scope():
        one, two = await asyncio.gather(container.slow(), container.slow())
        assert one is two
        with pytest.raises(RequestScopeError, match=r"pass it, as request_scope\(request\)"):
            container.request()
    async with request_scope():
        assert await container.slow() is not one
    assert events() == [("opened", "slow", None), ("opened", "slow", None)]


@pytest.mark.asyncio
async def test_request_scope_passes_the_block_s_error_to_the_clean_up() -> None:
    """An exception that ends the block reaches the instance's exit, then goes on."""

    async def job() -> None:
        async with request_scope(HttpRequest()):
            await get_container().first()
            raise KeyError("job failed")

    with pytest.raises(KeyError):
        await job()
    assert events() == [("opened", "first", None), ("closed", "first", "KeyError")]


@pytest.mark.asyncio
async def test_a_task_that_outlives_its_request_cannot_use_its_instances() -> None:
    """After the scope is closed, a use is a RequestScopeError naming the provider."""
    async with request_scope():
        scope = scopes.current_scope()
    assert scope is not None
    with pytest.raises(RequestScopeError, match="'first' is request-scoped, and its request"):
        await scope.get(get_container().first, lambda: None)


@pytest.mark.asyncio
async def test_a_failed_creation_is_retried_by_the_next_use() -> None:
    """A creation that raised is forgotten: the next use in the request tries again."""
    attempts: list[int] = []

    async def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("upstream down")
        return len(attempts)

    resource: RequestResource[int] = RequestResource(flaky)
    async with request_scope():
        with pytest.raises(ConnectionError):
            await resource()
        assert await resource() == 2
        assert await resource() == 2


@pytest.mark.asyncio
async def test_a_creation_under_way_when_the_scope_closes_is_cancelled() -> None:
    """Closing the scope cancels creations still running (a request cancelled meanwhile)."""
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def never() -> int:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        raise AssertionError("unreachable")

    resource: RequestResource[int] = RequestResource(never)
    async with request_scope():
        waiting = asyncio.ensure_future(resource())
        await started.wait()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert cancelled == [True]


@pytest.mark.asyncio
async def test_an_async_context_manager_factory_is_entered_and_exited() -> None:
    """A factory returning an async context manager: its __aexit__ is the clean-up."""
    seen: list[str] = []

    class Managed:
        async def __aenter__(self) -> str:
            seen.append("enter")
            return "managed"

        async def __aexit__(self, *exc_info: object) -> None:
            seen.append("exit")

    resource: RequestResource[str] = RequestResource(Managed)
    plain: RequestResource[dict[str, int]] = RequestResource(
        providers.Factory(dict, a=1).provides, a=1
    )
    async with request_scope():
        assert await resource() == "managed"
        assert await plain() == {"a": 1}
    assert seen == ["enter", "exit"]


@pytest.mark.asyncio
async def test_sync_initializers_are_refused_with_the_fix() -> None:
    """A sync generator function, or a factory giving a sync context manager, is a TypeError."""

    def sync_generator() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="RequestResource needs an async initializer"):
        RequestResource(sync_generator)

    class SyncOnly:
        def __enter__(self) -> SyncOnly:
            return self

        def __exit__(self, *exc_info: object) -> None:
            pass

    resource: RequestResource[Any] = RequestResource(SyncOnly)
    async with request_scope():
        with pytest.raises(TypeError, match="produced a sync context manager"):
            await resource()


def test_a_sync_function_asking_for_a_request_resource_is_refused() -> None:
    """A sync function asking for a RequestResource gets the usual "declare it async"."""

    @inject
    def sync_view(first: Tracked = Provide[Container.first]) -> Tracked:
        return first

    def call() -> None:
        with pytest.raises(AsyncResourceRequiredError, match=r"Declare .*sync_view `async def`"):
            sync_view()

    async def run() -> None:
        async with request_scope(HttpRequest()):
            await asyncio.to_thread(call)

    asyncio.run(run())


def test_close_from_sync_after_the_loop_stopped_warns(caplog: pytest.LogCaptureFixture) -> None:
    """A scope whose loop is gone cannot be closed: that is logged, naming what stays open."""
    scope = scopes.RequestScope(HttpRequest())

    async def use() -> None:
        token = scopes._CURRENT.set(scope)
        try:
            await get_container().first()
        finally:
            scopes._CURRENT.reset(token)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(use())
    finally:
        loop.close()
    with caplog.at_level(logging.WARNING, logger="django_lifespan_di"):
        scope.close_from_sync()
        scope.close_from_sync()  # closed (given up) already: nothing more
    (warning,) = caplog.records
    assert "could not close the request-scoped 'first'" in warning.getMessage()
    gc.collect()


def test_the_checks_refuse_a_sync_view_of_a_request_resource() -> None:
    """E013 covers RequestResource: it is provided asynchronously."""
    from django_lifespan_di import checks

    provider = get_container().first
    assert checks._is_async_provider(provider)
    assert checks._is_async_provider(providers.Factory(dict, x=provider))
    assert not [m for m in run_checks() if m.id == "django_lifespan_di.E013"]


def test_current_request_is_a_provider_of_the_request() -> None:
    """CurrentRequest gives the HttpRequest the scope serves."""
    request = HttpRequest()

    async def read() -> Any:
        async with request_scope(request):
            return CurrentRequest()()

    assert asyncio.run(read()) is request


@pytest.mark.asyncio
async def test_closing_a_scope_twice_or_an_unused_one_does_nothing() -> None:
    """close() and close_from_sync() are idempotent, and free for an unused scope."""
    unused = scopes.RequestScope(None)
    unused.close_from_sync()
    async with request_scope(HttpRequest()):
        scope = scopes.current_scope()
        assert scope is not None
        await get_container().first()
    await scope.close()
    scope.close_from_sync()
    assert events() == [("opened", "first", None), ("closed", "first", None)]


def test_process_exception_outside_a_scope_keeps_nothing() -> None:
    """The middleware's exception hook, called where no scope is active, does nothing."""
    from django_lifespan_di.middleware import RequestScopeMiddleware

    async def view(request: HttpRequest) -> Any:
        raise AssertionError("not called")

    middleware = RequestScopeMiddleware(view)
    assert middleware.process_exception(HttpRequest(), ValueError("lost")) is None


@pytest.mark.asyncio
async def test_the_asgi_handler_closes_a_streamed_response_s_instances_from_its_close() -> None:
    """Served by the ASGI handler, the clean-up runs in response.close(), after the body."""
    sent: list[Any] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    scope = http_scope("/stream")
    await asyncio.wait_for(LifespanASGIHandler()(scope, receive, send), DEADLINE)
    body = b"".join(each.get("body", b"") for each in sent[1:])
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert [event for event, _, _ in events()] == ["opened", "chunk", "chunk", "chunk", "closed"]
