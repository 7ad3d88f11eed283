"""The testing kit: ``override_providers``, ``find_provider``, ``lifespan``, ``lifespan_client``."""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientSession
from aioresponses import aioresponses
from dependency_injector import providers
from django.conf import settings
from django.test import AsyncClient, Client, override_settings

from django_lifespan_di import ShutdownError, StartupError, get_container
from django_lifespan_di.asgi import STATE_KEY
from django_lifespan_di.testing import (
    OverrideError,
    find_provider,
    lifespan,
    lifespan_client,
    override_providers,
)
from tests.project.containers import Container
from tests.testing_helpers import (
    FAKE_PAYLOAD,
    PAYMENTS_REFUSAL,
    FakeSession,
    MockedResponse,
    NestedContainer,
    SessionRecorder,
    Token,
    TokenContainer,
    use_container,
)

MODULE_FAKE = FakeSession()
"""The fake that the tests decorated at module level override ``http_session`` with."""

INJECTED_VIEWS = pytest.mark.parametrize("path", ["/proxy", "/cbv"], ids=["function", "class"])


class Boom(Exception):
    """What a test body raises, to see what happens to it and to the overrides."""


# Ways of naming ``http_session``: its name, the class-level provider of the container class
# (mapped to the instance's), and the instance's provider itself.
KEYS: dict[str, Callable[[Any], Any]] = {
    "name": lambda container: "http_session",
    "class-provider": lambda container: Container.http_session,
    "instance-provider": lambda container: container.http_session,
}
BY_ANY_KEY = pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))


@pytest.fixture(name="fake")
def fixture_fake() -> FakeSession:
    """A fake session, answering every request with :data:`FAKE_PAYLOAD`."""
    return FakeSession()


@pytest.fixture(name="recorder")
def fixture_recorder(container: Any) -> SessionRecorder:
    """Keeps every real session the (fresh) container's ``http_session`` opens."""
    recorder = SessionRecorder()
    container.http_session.set_provides(recorder.open)
    return recorder


def is_overridden(provider: Any) -> bool:
    return bool(provider.overridden)


def started_session(state: dict[str, Any]) -> ClientSession:
    session: ClientSession = state[STATE_KEY]["http_session"]
    assert isinstance(session, ClientSession)
    return session


# The forms of override_providers ---------------------------------------------------------------


@BY_ANY_KEY
def test_context_manager_overrides_the_provider_named_by_any_key(
    container: Any, fake: FakeSession, key: Callable[[Any], Any]
) -> None:
    """As a context manager, the named provider of the container provides the fake inside."""
    with override_providers({key(container): fake}) as entered:
        assert entered is container
        assert container.http_session() is fake
        assert not is_overridden(Container.http_session), "the class-level provider changed"
    assert not is_overridden(container.http_session)


@BY_ANY_KEY
def test_find_provider_maps_every_key_to_the_instance_provider(
    container: Any, key: Callable[[Any], Any]
) -> None:
    """Names, class-level providers and instance providers all designate the instance's one."""
    assert find_provider(container, key(container)) is container.http_session


@pytest.mark.parametrize(
    "value",
    [FakeSession(), FakeSession, lambda: "called", None],
    ids=["instance", "class", "function", "None"],
)
def test_a_value_that_is_not_a_provider_is_provided_as_it_is(container: Any, value: Any) -> None:
    """Any object that is not a provider (a class, a function, None) is provided, not called."""
    with override_providers(http_session=value):
        assert container.http_session() is value


def test_a_provider_value_is_used_as_the_provider(container: Any) -> None:
    """A provider given as the value is used as it is: a Factory gives a new fake per call."""
    factory = providers.Factory(FakeSession)
    with override_providers(http_session=factory):
        assert container.http_session.last_overriding is factory
        first, second = container.http_session(), container.http_session()
    assert isinstance(first, FakeSession)
    assert isinstance(second, FakeSession)
    assert first is not second


def test_sync_function_decorator_overrides_during_each_call(
    container: Any, fake: FakeSession
) -> None:
    """As a decorator of a sync function, the override lasts exactly as long as each call."""

    @override_providers(http_session=fake)
    def provided() -> object:
        return container.http_session()

    assert not is_overridden(container.http_session)
    assert provided() is fake
    assert not is_overridden(container.http_session)
    assert provided() is fake


@pytest.mark.asyncio
async def test_async_function_decorator_overrides_while_the_coroutine_runs(
    container: Any, fake: FakeSession
) -> None:
    """As a decorator of a coroutine function, the override lasts while the coroutine runs."""

    @override_providers(http_session=fake)
    async def provided() -> object:
        await asyncio.sleep(0)  # the override holds across a suspension
        return container.http_session()

    coroutine = provided()
    assert not is_overridden(container.http_session), "applied before the coroutine ran"
    assert await coroutine is fake
    assert not is_overridden(container.http_session)


@override_providers(http_session=MODULE_FAKE)
def test_decorated_sync_test_sees_the_fake() -> None:
    """A sync pytest test decorated with override_providers gets the fake from the container."""
    assert get_container().http_session() is MODULE_FAKE


@pytest.mark.asyncio
@override_providers(http_session=MODULE_FAKE)
async def test_decorated_async_test_views_get_the_fake() -> None:
    """An async pytest test decorated with override_providers: injected views get the fake."""
    response = await AsyncClient().get("/proxy")
    assert response.json() == {"upstream": FAKE_PAYLOAD, "session": id(MODULE_FAKE)}


def test_nested_overrides_inner_wins_and_outer_comes_back(container: Any) -> None:
    """An inner override wins; when it ends the outer one is back; then the real provider."""
    outer, inner = FakeSession(), FakeSession()
    with override_providers(http_session=outer):
        with override_providers({Container.http_session: inner}):
            assert container.http_session() is inner
        assert container.http_session() is outer
    assert not is_overridden(container.http_session)


def test_the_same_override_object_can_be_nested(container: Any, fake: FakeSession) -> None:
    """One override_providers object entered twice is undone once per exit."""
    override = override_providers(http_session=fake)
    with override:
        with override:
            assert container.http_session() is fake
        assert container.http_session() is fake
    assert not is_overridden(container.http_session)


# Undone after a failure ------------------------------------------------------------------------


def raise_in_context_manager(error: Exception) -> None:
    with override_providers(http_session=FakeSession()):
        raise error


def raise_in_sync_decorated(error: Exception) -> None:
    @override_providers(http_session=FakeSession())
    def decorated() -> None:
        raise error

    decorated()


def raise_in_async_decorated(error: Exception) -> None:
    @override_providers(http_session=FakeSession())
    async def decorated() -> None:
        raise error

    asyncio.run(decorated())


@pytest.mark.parametrize(
    "raise_in",
    [raise_in_context_manager, raise_in_sync_decorated, raise_in_async_decorated],
    ids=["context-manager", "sync-decorator", "async-decorator"],
)
def test_an_exception_inside_the_override_still_undoes_it(
    container: Any, raise_in: Callable[[Exception], None]
) -> None:
    """The error goes through unchanged and the real provider is back."""
    error = Boom("the test failed")
    with pytest.raises(Boom) as raised:
        raise_in(error)
    assert raised.value is error
    assert not is_overridden(container.http_session)


def test_an_unknown_name_among_several_overrides_applies_none_of_them(
    container: Any, fake: FakeSession
) -> None:
    """Every key is checked before anything is overridden, so a typo leaves nothing behind."""
    with pytest.raises(OverrideError), override_providers(http_session=fake, http_sesion=fake):
        pass
    assert not is_overridden(container.http_session)


def test_an_override_failing_half_way_undoes_the_ones_it_applied(fake: FakeSession) -> None:
    """A plain object for a container provider cannot override it: the error goes through, and
    the override applied before it is undone (it would leak into later tests)."""
    with use_container("NestedContainer"):
        container = get_container()
        with (
            pytest.raises(Exception, match=r"(?i)container"),  # dependency-injector's own error
            override_providers({"http_session": fake, "clients": object()}),
        ):
            pass
        assert not is_overridden(container.http_session)
        assert not is_overridden(container.clients)


def test_overrides_disabled_out_of_order_remove_only_their_own(container: Any) -> None:
    """Ending the outer of two overrides first takes away only the outer one: the inner one
    stays in force until it ends too."""
    outer_fake, inner_fake = FakeSession(), FakeSession()
    outer = override_providers(http_session=outer_fake)
    inner = override_providers(http_session=inner_fake)
    outer.enable()
    inner.enable()

    outer.disable()
    assert container.http_session() is inner_fake
    inner.disable()
    assert not is_overridden(container.http_session)


# Keys that designate nothing -------------------------------------------------------------------


def test_a_misspelt_name_raises_listing_the_provider_names(fake: FakeSession) -> None:
    """A name the container does not have raises OverrideError, which lists the names it has."""
    with pytest.raises(OverrideError) as raised, override_providers(http_sesion=fake):
        pass
    message = str(raised.value)
    assert "'http_sesion'" in message
    assert "http_session" in message.replace("'http_sesion'", "")
    assert "Container" in message
    assert isinstance(raised.value, LookupError)


@pytest.mark.parametrize(
    "foreign",
    [providers.Object("elsewhere"), TokenContainer.token],
    ids=["free-standing", "another-container's"],
)
def test_a_provider_of_no_container_raises(fake: FakeSession, foreign: Any) -> None:
    """A provider that is not the container's raises OverrideError listing the container's."""
    with pytest.raises(OverrideError, match="http_session"), override_providers({foreign: fake}):
        pass
    assert not is_overridden(foreign)


@pytest.mark.parametrize(
    "key",
    [lambda: "clients.api", lambda: NestedContainer.clients.api],
    ids=["dotted-name", "class-provider"],
)
def test_a_provider_of_a_nested_container_can_be_overridden(key: Callable[[], Any]) -> None:
    """A provider inside a nested container is named with a dotted name, or given as such."""
    with use_container("NestedContainer"):
        container = get_container()
        with override_providers({key(): "the fake api client"}):
            assert container.clients.api() == "the fake api client"
        assert container.clients.api() == "the real api client"


def test_a_misspelt_nested_name_lists_the_dotted_names(fake: FakeSession) -> None:
    """The listing in the error includes the providers of nested containers, dotted."""
    with (
        use_container("NestedContainer"),
        pytest.raises(OverrideError, match=r"clients\.api"),
        override_providers({"clients.apy": fake}),
    ):
        pass


# Overrides and the lifespan --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_override_without_lifespan_creates_no_real_session(
    container: Any, fake: FakeSession
) -> None:
    """A view served while the session is overridden gets the fake; no real one is opened."""
    with override_providers(http_session=fake):
        response = await AsyncClient().get("/proxy")
    assert response.json() == {"upstream": FAKE_PAYLOAD, "session": id(fake)}
    assert fake.paths == ["/data"]
    assert not container.http_session.initialized


@pytest.mark.asyncio
async def test_override_before_startup_reaches_views_and_opens_no_real_session(
    recorder: SessionRecorder, fake: FakeSession
) -> None:
    """Overridden before startup: the state and the views get the fake; no real session opens."""
    with override_providers(http_session=fake):
        async with lifespan() as state:
            response = await AsyncClient().get("/proxy")
    assert state[STATE_KEY]["http_session"] is fake
    assert response.json() == {"upstream": FAKE_PAYLOAD, "session": id(fake)}
    assert recorder.sessions == []


@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream")
async def test_a_session_opened_after_the_override_ended_is_closed_at_shutdown(
    container: Any, recorder: SessionRecorder, fake: FakeSession
) -> None:
    """An override that ends while the server runs: views then get a real session, closed later."""
    with contextlib.ExitStack() as overrides:
        overrides.enter_context(override_providers(http_session=fake))
        async with lifespan():
            overrides.close()
            response = await AsyncClient().get("/proxy")
            assert [session.closed for session in recorder.sessions] == [False]
    assert response.json()["session"] == id(recorder.sessions[0])
    assert recorder.sessions[0].closed, "shutdown left the session made on first use open"
    assert not container.http_session.initialized


@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream")
async def test_override_after_startup_reaches_views_then_the_started_session_again(
    fake: FakeSession,
) -> None:
    """Overridden after startup, views get the fake; when it ends, the started session."""
    async with lifespan() as state:
        real = started_session(state)
        with override_providers(http_session=fake):
            overridden = await AsyncClient().get("/proxy")
        restored = await AsyncClient().get("/proxy")
    assert overridden.json() == {"upstream": FAKE_PAYLOAD, "session": id(fake)}
    assert restored.json()["session"] == id(real)
    assert real.closed


@pytest.mark.asyncio
async def test_override_before_startup_reaches_resources_built_from_it(
    fake: FakeSession,
) -> None:
    """A resource started while its dependency is overridden is built with the fake."""
    with use_container("TokenContainer"), override_providers(http_session=fake):
        async with lifespan() as state:
            token = state[STATE_KEY]["token"]
            assert isinstance(token, Token)
            assert token.session is fake
    assert token.revoked


@pytest.mark.asyncio
@BY_ANY_KEY
async def test_overriding_a_dependency_of_a_started_resource_names_the_dependent(
    fake: FakeSession, key: Callable[[Any], Any]
) -> None:
    """After startup, overriding what a started resource was built from raises, naming it."""
    with use_container("TokenContainer"):
        container = get_container()
        async with lifespan():
            with pytest.raises(OverrideError, match=r"\btoken\b") as raised:
                override_providers({key(container): fake}).enable()
            assert not is_overridden(container.http_session)
    assert "before the lifespan startup" in str(raised.value)


@pytest.mark.asyncio
async def test_overriding_a_started_resource_together_with_its_dependents_is_allowed(
    fake: FakeSession,
) -> None:
    """The remedy the error message gives (override the dependent too) works after startup."""
    fake_token = Token(fake)  # type: ignore[arg-type]
    with use_container("TokenContainer"):
        container = get_container()
        async with lifespan():
            with override_providers(http_session=fake, token=fake_token):
                assert container.http_session() is fake
                assert container.token() is fake_token
            assert not is_overridden(container.token)


# lifespan() and lifespan_client() --------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream")
async def test_lifespan_yields_the_state_holding_the_session_views_get() -> None:
    """Inside lifespan(), views get the session startup put in the state; shutdown closes it."""
    async with lifespan() as state:
        session = started_session(state)
        first = await AsyncClient().get("/proxy")
        second = await AsyncClient().get("/by-name")
        assert not session.closed
    assert first.json()["session"] == id(session)
    assert second.json() == {"session": id(session), "closed": False}
    assert session.closed


@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream")
async def test_lifespan_client_serves_requests_between_startup_and_shutdown(
    container: Any,
) -> None:
    """lifespan_client() yields an AsyncClient whose requests get the session startup opened."""
    async with lifespan_client() as client:
        assert isinstance(client, AsyncClient)
        assert container.http_session.initialized, "startup ran before the client was given"
        session = container.http_session()
        responses = [await client.get(path) for path in ("/proxy", "/cbv", "/by-name")]
    assert [response.json()["session"] for response in responses] == [id(session)] * 3
    assert session.closed


@contextlib.asynccontextmanager
async def enter_lifespan(container: Any) -> AsyncIterator[ClientSession]:
    async with lifespan() as state:
        yield started_session(state)


@contextlib.asynccontextmanager
async def enter_lifespan_client(container: Any) -> AsyncIterator[ClientSession]:
    async with lifespan_client():
        yield container.http_session()


LIFESPAN_HELPERS = pytest.mark.parametrize(
    "enter", [enter_lifespan, enter_lifespan_client], ids=["lifespan", "lifespan_client"]
)


@pytest.mark.asyncio
@LIFESPAN_HELPERS
async def test_shutdown_runs_when_the_body_raises_and_the_error_goes_through(
    container: Any, enter: Callable[[Any], Any]
) -> None:
    """An error in the body still runs shutdown (the session is closed) and comes out unchanged."""
    error = Boom("the test failed")
    sessions: list[ClientSession] = []

    async def failing_test() -> None:
        async with enter(container) as session:
            sessions.append(session)
            raise error

    with pytest.raises(Boom) as raised:
        await failing_test()
    assert raised.value is error
    assert [session.closed for session in sessions] == [True]
    assert not container.http_session.initialized


@pytest.mark.asyncio
@LIFESPAN_HELPERS
async def test_startup_failure_raises_startup_error_with_the_resource_and_traceback(
    enter: Callable[[Any], Any],
) -> None:
    """A failed startup raises the StartupError itself: it names the resource, and its cause is
    the initializer's own exception, with its traceback."""
    entered = False
    with use_container("PaymentsContainer"):
        container = get_container()
        with pytest.raises(StartupError) as raised:
            async with enter(container):
                entered = True
        assert raised.value.name == "payments"
        assert f"StartupFailed: {PAYMENTS_REFUSAL}" in str(raised.value)
        cause = raised.value.__cause__
        assert cause is not None
        assert str(cause) == PAYMENTS_REFUSAL
        frames = [frame.name for frame in traceback.extract_tb(cause.__traceback__)]
        assert "connect_payments" in frames, "the failing initializer's frame is missing"
        assert not entered
        assert not container.http_session.initialized, "the session started first stays open"


@pytest.mark.asyncio
async def test_shutdown_failure_raises_shutdown_error_naming_the_resource() -> None:
    """A resource that fails to stop makes lifespan() raise ShutdownError with its name."""
    with use_container("CacheContainer"), pytest.raises(ShutdownError) as raised:
        async with lifespan():
            pass
    assert raised.value.names == ["cache"]
    assert str(raised.value).count("failed to stop") == 1, str(raised.value)


@pytest.mark.asyncio
async def test_an_error_in_the_body_wins_over_a_shutdown_failure() -> None:
    """When the body raised and shutdown fails too, the body's error is the one raised."""
    error = Boom("the test failed")
    with use_container("CacheContainer"), pytest.raises(Boom) as raised:
        async with lifespan():
            raise error
    assert raised.value is error


async def crashing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    raise Boom("the app crashed at startup")


async def returning_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()


async def silent_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await asyncio.Event().wait()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("app", "error", "text"),
    [
        (crashing_app, Boom, "the app crashed at startup"),
        (returning_app, RuntimeError, "the app returned without sending lifespan.startup.complete"),
        (silent_app, TimeoutError, "the app sent no lifespan.startup.complete within 0.05 s"),
    ],
    ids=["raises", "returns", "never-replies"],
)
async def test_app_that_does_not_answer_the_startup_makes_lifespan_raise(
    app: Any, error: type[Exception], text: str
) -> None:
    """An app that raises, returns or stays silent instead of answering the startup makes
    lifespan() raise (its own error, or one saying what was missing) and never enter the body."""
    entered = False
    with pytest.raises(error, match=f"^{text}$"):
        async with lifespan(app, timeout=0.05):
            entered = True
    assert not entered


@pytest.mark.asyncio
async def test_shutdown_failure_of_another_app_raises_shutdown_error_with_its_message() -> None:
    """A lifespan.shutdown.failed whose message is not ours (another app's) still raises
    ShutdownError, carrying that message whole."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "the pool would not drain"})

    with pytest.raises(ShutdownError) as raised:
        async with lifespan(app):
            pass
    assert raised.value.names == ["the pool would not drain"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("startup", "shutdown", "expected"),
    [
        pytest.param(
            "resource 'ledger' failed to start after 1.0 ms: OSError: refused",
            None,
            StartupError("ledger", ""),
            id="startup-of-a-resource",
        ),
        pytest.param("the app's own words", None, StartupError("startup", ""), id="startup"),
        pytest.param(
            None,
            "failed to stop: cache, ledger (see the log for each traceback)",
            ShutdownError(["cache", "ledger"]),
            id="shutdown-in-our-words",
        ),
    ],
)
async def test_another_apps_failure_is_rebuilt_from_its_message(
    startup: str | None, shutdown: str | None, expected: Exception
) -> None:
    """An app that is not ours reports only text: the error is rebuilt from it, with the
    resource names when the text is in this library's words."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        if startup is not None:
            await send({"type": "lifespan.startup.failed", "message": startup})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": shutdown})

    with pytest.raises(type(expected)) as raised:
        async with lifespan(app):
            pass
    failure = raised.value
    if isinstance(expected, StartupError):
        assert isinstance(failure, StartupError)
        assert failure.name == expected.name
    else:
        assert isinstance(failure, ShutdownError)
        assert isinstance(expected, ShutdownError)
        assert failure.names == expected.names


@pytest.mark.asyncio
async def test_lifespan_middleware_hands_its_failure_over_as_the_exception_itself() -> None:
    """Around another ASGI app (Channels' router, say), the middleware's failed startup still
    reaches the test as the StartupError itself."""
    from django_lifespan_di.asgi import LifespanMiddleware

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None: ...

    app = LifespanMiddleware(inner)
    with use_container("PaymentsContainer"), pytest.raises(StartupError) as raised:
        async with lifespan(app):
            pass
    assert raised.value is app.lifespan_failure
    assert raised.value.name == "payments"


@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream")
async def test_sync_client_inside_lifespan_client_gets_a_session_per_loop_all_closed(
    recorder: SessionRecorder,
) -> None:
    """Django's sync Client works inside lifespan_client(): one session per loop, all closed."""
    # The sync Client (in a thread, as a sync test would run it) runs each async view in a new
    # event loop; the session made for that loop closes with it, and startup's at shutdown.
    async with lifespan_client():
        started = list(recorder.sessions)
        responses = [await asyncio.to_thread(Client().get, "/proxy") for _ in range(2)]
        assert all(session.closed for session in recorder.sessions[len(started) :])
    assert [response.status_code for response in responses] == [200, 200]
    served = [response.json()["session"] for response in responses]
    assert len(started) == 1
    assert len(recorder.sessions) == 3
    assert served == [id(session) for session in recorder.sessions[1:]]
    assert all(session.closed for session in recorder.sessions)


# Faking the upstream, or the session, for injected views ---------------------------------------


@pytest.mark.asyncio
@INJECTED_VIEWS
async def test_views_use_the_real_shared_session_with_the_upstream_mocked(path: str) -> None:
    """With aioresponses, the view runs on the real session from the container; only I/O is fake."""
    payload = {"from": "aioresponses"}
    async with lifespan() as state:
        session = started_session(state)
        # The upstream is a third-party service outside the code under test. Mocking it at the
        # network edge keeps everything of ours real: the lifespan-started shared session, its
        # base_url and defaults, the injection into the view and the view itself.
        with aioresponses() as mocked:
            mocked.get(
                f"{settings.UPSTREAM_URL}/data", payload=payload, response_class=MockedResponse
            )
            response = await AsyncClient().get(path)
    assert response.status_code == 200
    assert response.json() == {"upstream": payload, "session": id(session)}
    assert session.closed


@pytest.mark.asyncio
@INJECTED_VIEWS
async def test_views_get_the_fake_session_that_overrides_the_provider(
    path: str, fake: FakeSession
) -> None:
    """With the provider overridden by a fake, the view calls the fake and never the network."""
    async with lifespan():
        with override_providers(http_session=fake):
            response = await AsyncClient().get(path)
    assert response.status_code == 200
    assert response.json() == {"upstream": FAKE_PAYLOAD, "session": id(fake)}
    assert fake.paths == ["/data"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("block", "name", "cause"),
    [
        pytest.param(
            {"ON_STARTUP": ["tests.lifecycle_containers.failing_async_hook"]},
            "tests.lifecycle_containers.failing_async_hook",
            "HookFailed",
            id="hook",
        ),
        pytest.param({"WIRE": ["tests.no_such_module"]}, "configuration", None, id="configuration"),
    ],
)
async def test_lifespan_raises_the_startup_error_itself_for_hooks_and_configuration(
    block: dict[str, Any], name: str, cause: str | None
) -> None:
    """A failing hook or a configuration mistake reaches the test as the StartupError the app
    raised: its ``name`` is the hook's path, or ``"configuration"``; a hook's error is its
    cause."""
    with (
        override_settings(
            ROOT_URLCONF="tests.lifecycle_containers",
            DJANGO_LIFESPAN_DI={**settings.DJANGO_LIFESPAN_DI, **block},
        ),
        pytest.raises(StartupError) as raised,
    ):
        async with lifespan():
            pass  # never entered
    assert raised.value.name == name
    assert type(raised.value.__cause__).__name__ == (cause or "NoneType")
