"""``django_lifespan_di.inject``: injection without wiring and without a Task per call.

``test_wired_inject.py`` covers dependency-injector's own ``@inject``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import typing
from typing import Annotated, Any

import pytest
from aiohttp import ClientSession
from asgiref.sync import async_to_sync
from dependency_injector import containers, providers
from dependency_injector.wiring import Closing, Provide
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings

from django_lifespan_di import AsyncResourceRequiredError, LifespanResource, _container, inject
from django_lifespan_di._inject import injected_markers, marker_text
from django_lifespan_di.checks import TAG
from tests import inject_views
from tests.driver import drive_lifespan
from tests.project.containers import Container
from tests.resource_helpers import Instance, Probe, counting_tasks


@pytest.fixture(name="inject_urls", autouse=True)
def fixture_inject_urls() -> Any:
    with override_settings(ROOT_URLCONF="tests.inject_views"):
        yield


@pytest.mark.asyncio
@pytest.mark.parametrize("url", ["/session", "/cbv"])
async def test_views_get_the_started_session_without_wiring(url: str) -> None:
    """A function view and a class-based view get the lifespan's session; nothing is wired."""
    async with drive_lifespan() as run:
        session = run.state["django_lifespan_di"]["http_session"]
        response = await AsyncClient().get(url)
    assert response.status_code == 200
    assert response.json()["session"] == id(session)
    assert "tests.inject_views" not in {m.__name__ for m in _container.wired_modules()[0]}


@pytest.mark.asyncio
async def test_injecting_the_started_session_creates_no_task() -> None:
    """After startup, 200 injections of the session create not a single Task."""
    async with drive_lifespan() as run:
        session = run.state["django_lifespan_di"]["http_session"]
        with counting_tasks(asyncio.get_running_loop()) as tasks:
            values = [await inject_views.get_session() for _ in range(200)]
    assert tasks == []
    assert all(value is session for value in values)


@pytest.mark.asyncio
async def test_without_lifespan_the_first_call_creates_the_session() -> None:
    """With no startup, the first injection creates the loop's session and later ones reuse it."""
    first = await inject_views.get_session()
    second = await inject_views.get_session()
    assert first is second
    assert not first.closed
    await _container.get_container().http_session.shutdown()
    assert first.closed


@pytest.mark.asyncio
async def test_an_override_wins_over_the_started_session() -> None:
    """An override after startup is injected; the started session comes back after it."""
    fake = object()
    async with drive_lifespan() as run:
        session = run.state["django_lifespan_di"]["http_session"]
        provider = _container.get_container().http_session
        with provider.override(providers.Object(fake)):
            assert await inject_views.get_session() is fake
        assert await inject_views.get_session() is session


@pytest.mark.asyncio
async def test_an_explicit_argument_is_not_replaced() -> None:
    """A value the caller passes is used as it is."""
    mine = object()
    assert await inject_views.get_session(session=mine) is mine


@pytest.mark.asyncio
async def test_provider_marker_injects_the_provider_itself() -> None:
    """Provider[...] gives the container's provider, not what it provides."""
    assert await inject_views.get_provider() is _container.get_container().http_session


def test_sync_function_asking_for_an_async_resource_is_told_to_be_async() -> None:
    """A sync function cannot receive an async resource: the error says to use async def."""
    with pytest.raises(AsyncResourceRequiredError, match="async def"):
        inject_views.sync_get_session()


@pytest.mark.asyncio
async def test_a_rebuilt_container_is_picked_up() -> None:
    """After the container is rebuilt (as tests do), injection resolves against the new one."""
    before = _container.get_container()
    _container.setup()
    after = _container.get_container()
    assert after is not before
    assert await inject_views.get_provider() is after.http_session


@pytest.mark.asyncio
async def test_an_unknown_provider_is_a_lookup_error_naming_the_container() -> None:
    """A marker naming no provider fails with the name and the container's class."""
    with pytest.raises(LookupError, match=r"no_such_thing.*Container"):
        await inject_views.unknown_provider(None)


def test_check_reports_an_unknown_provider_but_not_missing_wiring() -> None:
    """The checks accept unwired views that use this inject, and report unknown providers."""
    with override_settings(ROOT_URLCONF="tests.inject_views"):
        assert [m for m in checks.run_checks(tags=[TAG]) if m.is_serious()] == []
    with override_settings(ROOT_URLCONF=inject_views.BrokenUrls):
        errors = [m for m in checks.run_checks(tags=[TAG]) if m.is_serious()]
    assert [error.id for error in errors] == ["django_lifespan_di.E010"]
    assert "no_such_thing" in errors[0].msg


def test_dependency_injector_wiring_leaves_the_function_alone() -> None:
    """Wiring a module never wraps these functions a second time (and hides no marker)."""
    before = inject_views.get_session
    _container.get_container().wire(modules=[sys.modules["tests.inject_views"]])
    try:
        assert inject_views.get_session is before
    finally:
        _container.get_container().unwire()
    assert injected_markers(before) is not None


def test_decorating_without_markers_or_with_closing_is_refused() -> None:
    """@inject on a function with nothing to inject, or with Closing[...], is an error."""
    from dependency_injector.wiring import Closing, Provide

    with pytest.raises(TypeError, match="no Provide"):

        @inject
        async def nothing(x: int = 1) -> None: ...

    with pytest.raises(TypeError, match="Closing"):

        @inject
        async def closing(x: Any = Closing[Provide["http_session"]]) -> None: ...


def test_signature_and_annotations_hide_the_injected_parameters() -> None:
    """The decorated function's signature and annotations (what help(), Django Ninja, pydantic
    and wire() read) show only the parameters a caller passes; the markers stay readable
    through injected_markers, for the system checks."""
    shown = inspect.signature(inject_views.session_id)

    assert list(shown.parameters) == ["request"]
    assert shown.parameters["request"].annotation is HttpRequest  # evaluated, not a string
    assert shown.return_annotation is HttpResponse
    assert typing.get_type_hints(inject_views.session_id) == {
        "request": HttpRequest,
        "return": HttpResponse,
    }
    assert list(injected_markers(inject_views.session_id) or {}) == ["session"]


def test_sync_function_is_given_an_explicit_argument_as_it_is() -> None:
    """A sync function called with the argument gets it, without asking the container."""
    mine = object()
    assert inject_views.sync_get_session(session=mine) is mine


@pytest.mark.asyncio
async def test_injection_without_a_container_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call made when the app never built the container raises the reason there is none."""
    monkeypatch.setattr(_container._registry, "container", None)

    with pytest.raises(ImproperlyConfigured, match="INSTALLED_APPS"):
        await inject_views.get_session()


@pytest.mark.asyncio
async def test_an_override_made_while_a_start_is_in_progress_is_not_bypassed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A start that ends while an override is active does not feed the fast path."""
    probe = Probe()
    provider: LifespanResource[Instance] = LifespanResource(probe.open)

    @inject
    async def get(value: Any = Provide["probe"]) -> Any:
        return value

    container = containers.DynamicContainer()
    container.probe = provider
    monkeypatch.setattr(_container._registry, "container", container)
    starting = asyncio.ensure_future(provider.init())
    await probe.entered.wait()
    fake = object()
    with provider.override(providers.Object(fake)):
        probe.gate.set()
        started = await starting
        assert await get() is fake
    assert await get() is started
    await provider.shutdown()
    assert started.closed


def _first_then_refusal(monkeypatch: pytest.MonkeyPatch, first: Any) -> Any:
    """The process container with ``first``, then a provider that raises; and a function
    injected with both, in that order."""
    container = containers.DynamicContainer()
    container.first = first
    container.second = providers.Callable(_refuse)
    monkeypatch.setattr(_container._registry, "container", container)

    @inject
    async def both(a: Any = Provide["first"], b: Any = Provide["second"]) -> Any:
        return a, b

    return container, both


def _refuse() -> None:
    raise RuntimeError("refused, as planned")


@pytest.mark.asyncio
async def test_a_failing_provider_leaves_no_unawaited_start_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When a later provider raises, the start already asked of an earlier one is dropped."""
    probe = Probe()
    _, both = _first_then_refusal(monkeypatch, LifespanResource(probe.open))

    with pytest.raises(RuntimeError, match="refused"):
        await both()
    assert probe.starts == 0


@pytest.mark.asyncio
async def test_a_failing_provider_leaves_a_stock_resource_start_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stock async Resource's start (already a Task) is left to finish, not abandoned."""
    container, both = _first_then_refusal(monkeypatch, providers.Resource(_stock_value))

    with pytest.raises(RuntimeError, match="refused"):
        await both()
    assert await container.first() == "stock value"
    await container.shutdown_resources()


async def _stock_value() -> str:
    return "stock value"


# Run modes: the wrapper touches no event loop until its coroutine runs.


def test_an_async_view_runs_under_async_to_sync_from_sync_code() -> None:
    """async_to_sync creates the coroutine before any loop runs; the view still gets its
    loop's session, closed with that loop."""
    session = async_to_sync(inject_views.get_session)()

    assert isinstance(session, ClientSession)
    assert session.closed


def test_an_async_view_runs_under_asyncio_run() -> None:
    """asyncio.run(view()) from plain sync code: one session for that loop, closed with it."""
    coroutine = inject_views.get_session()  # created outside any loop, as asyncio.run's caller
    session = asyncio.run(coroutine)

    assert isinstance(session, ClientSession)
    assert session.closed


@pytest.mark.parametrize("url", ["/session", "/cbv"])
def test_async_views_run_under_the_sync_test_client(url: str) -> None:
    """Django's sync Client runs each async view in a new loop: a function view and a
    class-based view each get an open session, a new one per request."""
    client = Client()
    first = client.get(url)
    second = client.get(url)

    assert first.status_code == second.status_code == 200
    assert first.json()["session"] != second.json()["session"]
    assert first.json().get("closed", False) is False


@pytest.mark.asyncio
async def test_an_async_generator_function_gets_values_not_coroutines() -> None:
    """An injected async generator function gets the session itself, each item."""
    async with drive_lifespan() as run:
        session = run.state["django_lifespan_di"]["http_session"]
        items = [item async for item in inject_views.stream_sessions(3)]
    assert items == [session, session, session]


@pytest.mark.asyncio
async def test_an_async_generator_function_creates_the_loops_session_on_first_use() -> None:
    """Without lifespan, the injected async generator function waits for the loop's session."""
    items = [item async for item in inject_views.stream_sessions(2)]
    assert isinstance(items[0], ClientSession)
    assert items[1] is items[0]
    await _container.get_container().http_session.shutdown()
    assert items[0].closed


@pytest.mark.asyncio
async def test_an_annotated_marker_is_injected_and_hidden_from_wiring() -> None:
    """Annotated[T, Provide[...]] injects like a Provide default, and the wrapper's signature
    and annotations do not show the parameter (so wire() leaves it alone)."""
    async with drive_lifespan() as run:
        session = run.state["django_lifespan_di"]["http_session"]
        assert await inject_views.annotated_session() is session
    assert list(inspect.signature(inject_views.annotated_session).parameters) == []
    assert "session" not in inject_views.annotated_session.__annotations__
    assert list(injected_markers(inject_views.annotated_session) or {}) == ["session"]


def test_a_positional_only_injected_parameter_is_refused_at_decoration() -> None:
    """A positional-only parameter cannot be injected: decoration fails, saying how to fix."""
    with pytest.raises(TypeError, match=r"'session' is positional-only.*after the '/'"):

        @inject
        async def view(session: Any = Provide["http_session"], /) -> None: ...


def test_an_annotated_hint_that_cannot_be_evaluated_is_refused_clearly() -> None:
    """A string annotation naming an unknown type cannot be read for markers: the error says
    why and what to do instead."""

    async def view(session: Annotated[NotImported, Provide["http_session"]]) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(TypeError, match=r"cannot be evaluated.*Provide\[\.\.\.\] default"):
        inject(view)


@pytest.fixture(name="dependents")
def fixture_dependents() -> Any:
    """The process container is tests.inject_views.Dependents, built as the app builds it."""
    with override_settings(DJANGO_LIFESPAN_DI={"CONTAINER": "tests.inject_views.Dependents"}):
        yield _container.get_container()


async def _started_then(view: Any, container: Any) -> Any:
    await container.http_session.init()
    try:
        return await view()
    finally:
        await container.http_session.shutdown()


async def _lazily(view: Any, container: Any) -> Any:
    return await view()


@pytest.mark.parametrize(
    "view",
    [inject_views.from_factory, inject_views.from_singleton, inject_views.from_callable],
    ids=["Factory", "Singleton", "Callable"],
)
@pytest.mark.parametrize("first", [_started_then, _lazily], ids=["started-first", "lazy-first"])
def test_dependents_get_a_session_whatever_loop_used_them_first(
    dependents: Any, view: Any, first: Any
) -> None:
    """A Factory, Singleton or Callable over the session gets a real session on every loop,
    whichever use came first (dependency-injector fixes a provider's mode on its first call)."""
    results = [
        asyncio.run(first(view, dependents)),
        asyncio.run(_lazily(view, dependents)),
        asyncio.run(_started_then(view, dependents)),
    ]
    assert all(isinstance(result, ClientSession) for result in results), results


@pytest.mark.parametrize("first", [_started_then, _lazily], ids=["started-first", "lazy-first"])
def test_a_provided_attribute_is_a_value_on_every_loop(dependents: Any, first: Any) -> None:
    """``Provide[Container.http_session.provided.closed]`` gives the open session's flag on
    every loop, never a coroutine."""
    view = inject_views.from_provided
    results = [asyncio.run(first(view, dependents)), asyncio.run(_lazily(view, dependents))]
    assert results == [False, False]


@pytest.mark.asyncio
async def test_a_sync_function_never_receives_what_is_built_from_an_async_resource(
    dependents: Any,
) -> None:
    """A sync function asking for a Factory over the session, called where a loop runs, gets
    an error naming the marker and the fix, not a coroutine or a future."""
    with pytest.raises(
        AsyncResourceRequiredError,
        match=r"sync_from_factory is a sync function but asks for "
        r"client=Provide\[Dependents\.factory\].*async def",
    ):
        inject_views.sync_from_factory()


@pytest.mark.asyncio
@pytest.mark.parametrize("view", ["sync_from_factory", "sync_from_singleton"])
async def test_a_sync_function_never_receives_a_future_of_a_ready_dependent(
    dependents: Any, view: str
) -> None:
    """With the session ready on this loop, dependency-injector answers a dependent with a
    ready future: the sync function still gets the error, not the future."""
    await dependents.http_session.init()
    await inject_views.from_singleton()
    with pytest.raises(AsyncResourceRequiredError, match=r"Provide\[Dependents\."):
        getattr(inject_views, view)()
    await dependents.http_session.shutdown()


@pytest.mark.asyncio
async def test_annotated_markers_sit_beside_plain_and_required_parameters() -> None:
    """An Annotated marker before a required parameter, and Annotated hints that carry no
    marker, are left as they are; only the markers are injected."""
    async with drive_lifespan() as run:
        session = run.state["django_lifespan_di"]["http_session"]
        assert await inject_views.annotated_before_a_required_parameter(city="Oslo") == (
            session,
            "Oslo",
        )
        assert await inject_views.with_plain_annotated("n") == ("n", session)
    shown = inspect.signature(inject_views.annotated_before_a_required_parameter)
    assert list(shown.parameters) == ["city"]
    assert shown.parameters["city"].default is inspect.Parameter.empty
    assert list(inspect.signature(inject_views.with_plain_annotated).parameters) == ["note"]
    assert injected_markers(inject_views.with_plain_annotated) is not None
    assert list(injected_markers(inject_views.with_plain_annotated) or {}) == ["session"]


def test_an_unevaluable_annotation_without_a_marker_does_not_stop_inject() -> None:
    """A hint naming a type imported only for type checkers is fine when the marker is a
    default: it is read as written."""

    async def view(request: NotImported, session: Any = Provide["http_session"]) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    assert list(injected_markers(inject(view)) or {}) == ["session"]


@pytest.mark.parametrize(
    ("marker", "text"),
    [
        (Provide[Container.http_session], "Provide[Container.http_session]"),
        (Provide["http_session"], "Provide['http_session']"),
        (Closing[Provide["http_session"]], "Closing[Provide['http_session']]"),
        (Provide[providers.Object(1)], "Provide[<Object of no declared container>]"),
    ],
    ids=["provider", "name", "closing", "foreign"],
)
def test_markers_are_shown_as_written(marker: Any, text: str) -> None:
    """Messages show a marker as the user wrote it, never as an object address."""
    assert marker_text(marker) == text


@pytest.mark.asyncio
async def test_a_sync_function_gets_a_sync_providers_value_inside_a_loop(dependents: Any) -> None:
    """Called on the event loop's thread, a sync function gets a sync provider's value."""
    assert inject_views.sync_greeting() == "hello"


@pytest.mark.asyncio
async def test_a_sync_function_inside_a_loop_is_refused_the_async_session() -> None:
    """Called on the event loop's thread, a sync function asking for the session directly is
    refused; the start that was asked for is dropped, not left pending."""
    with pytest.raises(AsyncResourceRequiredError, match=r"sync_get_session is a sync function"):
        inject_views.sync_get_session()
    assert not _container.get_container().http_session.initialized


@pytest.mark.asyncio
async def test_the_debug_line_of_a_lazy_creation_names_the_provider_and_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``created 'http_session' for event loop <type> 0x... (thread ...) in ... ms``."""
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.DEBUG, logger="django_lifespan_di"):
        await inject_views.get_session()
    await _container.get_container().http_session.shutdown()

    created = [r.getMessage() for r in caplog.records if r.getMessage().startswith("created")]
    assert len(created) == 1, created
    assert created[0].startswith(
        f"created 'http_session' for event loop {type(loop).__name__} 0x{id(loop):x} (thread "
    )
