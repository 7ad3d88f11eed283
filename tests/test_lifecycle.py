"""The lifespan lifecycle: starting and stopping the container's resources, as a server sees it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.test import override_settings

from django_lifespan_di import ShutdownError, get_container
from django_lifespan_di._lifecycle import Lifecycle, report_failure
from django_lifespan_di.asgi import (
    STATE_KEY,
    LifespanASGIHandler,
    LifespanMiddleware,
    LifespanProtocolError,
    get_asgi_application,
)
from tests import lifecycle_containers
from tests.driver import drive_lifespan
from tests.lifecycle_containers import Handle, events

pytestmark = pytest.mark.asyncio

HOOKS = "tests.lifecycle_containers"
SHORT = 0.5
"""STARTUP_TIMEOUT or SHUTDOWN_TIMEOUT for the tests that wait one out."""
MARGIN = 10.0
"""A generous bound on anything that should end "within the timeout"; never a speed check. Also
the timeouts of the other tests, so that a slow machine does not make them hit one."""

UseContainer = Callable[..., Any]


@pytest.fixture(name="record", autouse=True)
def fixture_record() -> Iterator[list[str]]:
    """The events of the test containers' resources and hooks, empty at the start of a test."""
    lifecycle_containers.reset()
    yield events
    lifecycle_containers.reset()


@pytest.fixture(name="use_container")
def fixture_use_container() -> Iterator[UseContainer]:
    """Switch the settings to a container of ``tests.lifecycle_containers`` (default after)."""
    default = type(get_container())
    with ExitStack() as stack:

        def use(name: str, **options: Any) -> Any:
            block = {
                "CONTAINER": f"{HOOKS}.{name}",
                "STARTUP_TIMEOUT": MARGIN,
                "SHUTDOWN_TIMEOUT": MARGIN,
                **options,
            }
            stack.enter_context(override_settings(ROOT_URLCONF=HOOKS, DJANGO_LIFESPAN_DI=block))
            return get_container()

        yield use
    assert type(get_container()) is default


@pytest.fixture(name="logger")
def fixture_logger() -> Iterator[logging.Logger]:
    """The library's logger; its level and ``disabled`` flag are restored after the test."""
    logger = logging.getLogger("django_lifespan_di")
    level, disabled = logger.level, logger.disabled
    yield logger
    logger.setLevel(level)
    logger.disabled = disabled


def failure_message(run: Any, kind: str) -> str:
    """The ``message`` of the ``lifespan.<kind>.failed`` the app sent (fails if it sent none)."""
    failed = [m for m in run.sent if m["type"] == f"lifespan.{kind}.failed"]
    assert len(failed) == 1, run.types
    message: str = failed[0]["message"]
    return message


async def failed_startup(timeout: float = MARGIN) -> str:
    """Run a lifespan startup that must fail; the message of its ``lifespan.startup.failed``."""
    async with drive_lifespan(timeout=timeout) as run:
        pass
    assert run.types == ["lifespan.startup.failed"]
    return failure_message(run, "startup")


def library_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The errors logged by the library, each with its traceback (if any)."""
    formatter = logging.Formatter("%(message)s")
    return [
        formatter.format(record)
        for record in caplog.records
        if record.name == "django_lifespan_di" and record.levelno >= logging.ERROR
    ]


# Startup -------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_state", [True, False], ids=["state", "no-state"])
async def test_startup_starts_every_resource_and_shares_them_in_the_state(
    use_container: UseContainer, record: list[str], with_state: bool
) -> None:
    """Startup starts every resource; the state (when the server has one) holds them by name."""
    container = use_container("Simple")
    async with drive_lifespan(with_state=with_state, timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"]
        assert sorted(record) == ["start a", "start b", "start plain"]
        assert container.a.initialized
        assert container.b.initialized
        assert container.plain.initialized
        if with_state:
            started = run.state[STATE_KEY]
            assert set(started) == {"a", "b", "plain"}
            assert all(isinstance(handle, Handle) for handle in started.values())
            assert {name: handle.name for name, handle in started.items()} == {
                "a": "a",
                "b": "b",
                "plain": "plain",
            }
            assert started["b"].needs == (started["a"],)
            assert container.a() is started["a"]
        else:
            assert run.state == {}
    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]


async def test_failed_startup_stops_what_started_dependents_first_and_reports_the_traceback(
    use_container: UseContainer, record: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A resource failing to start: the others are stopped (dependents first), the failure
    reaches the server with its traceback, and is logged."""
    use_container("FailingStart")
    message = await failed_startup()
    assert "'c'" in message
    assert "Traceback (most recent call last)" in message
    assert "in fail_to_start" in message
    assert "StartFailed: c could not connect" in message
    assert record == ["start a", "start b", "start c", "stop b", "stop a"]
    assert any("'c'" in line and "could not connect" in line for line in library_errors(caplog))


async def test_startup_hanging_past_the_timeout_fails_and_cleans_up(
    use_container: UseContainer, record: list[str]
) -> None:
    """A resource still starting at STARTUP_TIMEOUT fails the startup, naming it and the
    timeout; its own cleanup runs, the resources that started stop, the rest never start."""
    use_container("HangingStart", STARTUP_TIMEOUT=SHORT)
    message = await failed_startup(SHORT + MARGIN)
    assert "'hang'" in message
    assert "STARTUP_TIMEOUT" in message
    assert f"{SHORT:g} s" in message
    assert "cleanup hang" in record
    assert "stop a" in record
    assert "start after_hang" not in record


async def test_failure_does_not_wait_for_a_sibling_still_starting(
    use_container: UseContainer, record: list[str]
) -> None:
    """When a resource fails, one still starting beside it is abandoned and cleaned up at once,
    without waiting for its STARTUP_TIMEOUT."""
    use_container("FailingBesideHanging", STARTUP_TIMEOUT=60 * MARGIN)
    assert "'c'" in (await failed_startup()).splitlines()[0]
    assert "cleanup hang" in record


async def test_resource_failing_with_its_own_timeout_error_is_not_blamed_on_startup_timeout(
    use_container: UseContainer, record: list[str]
) -> None:
    """A resource that fails at once with a TimeoutError of its own (a client's connect timeout)
    is reported with that error, not as having exceeded STARTUP_TIMEOUT."""
    use_container("OwnTimeout", STARTUP_TIMEOUT=60 * MARGIN)
    summary = (await failed_startup()).splitlines()[0]
    assert "'upstream'" in summary
    assert "connection timeout to host" in summary
    assert "STARTUP_TIMEOUT" not in summary
    assert record == ["start a", "start upstream", "stop a"]


async def test_dependents_start_after_and_stop_before_their_dependencies(
    use_container: UseContainer, record: list[str]
) -> None:
    """A resource starts once what it needs has started, and stops before any of it stops."""
    use_container("Diamond")
    async with drive_lifespan(timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"], failure_message(run, "startup")
        started = run.state[STATE_KEY]
        assert started["top"].needs == (started["left"], started["right"])
    assert run.types[-1] == "lifespan.shutdown.complete"
    at = record.index
    for dependency, dependent in [("base", "left"), ("base", "right"), ("left", "top")]:
        assert at(f"start {dependency}") < at(f"start {dependent}"), record
        assert at(f"stop {dependent}") < at(f"stop {dependency}"), record
    assert at("start right") < at("start top")
    assert at("stop top") < at("stop right")


async def test_independent_resources_start_concurrently(use_container: UseContainer) -> None:
    """Resources that do not need each other are starting at the same time."""
    # left and right each wait until the other is starting too; one after the other, the first
    # would give up after MEETING_TIMEOUT and fail the startup.
    use_container("Diamond")
    async with drive_lifespan(timeout=lifecycle_containers.MEETING_TIMEOUT + MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"], failure_message(run, "startup")
    assert lifecycle_containers.meeting.peak == 2


@pytest.mark.parametrize(
    "name",
    ["FailingSyncStart", "FailingSyncStartAlone"],
    ids=["needing-a-lifespan-resource", "needing-a-sync-resource"],
)
async def test_sync_resource_failing_to_start_fails_the_startup_like_an_async_one(
    use_container: UseContainer, record: list[str], name: str
) -> None:
    """A stock sync resource failing to start fails the startup, naming it; the resources
    already started are stopped."""
    container = use_container(name)
    summary = (await failed_startup()).splitlines()[0]
    assert "resource 'sync' failed to start" in summary
    assert "StartFailed: sync could not connect" in summary
    assert record == ["start a", "start sync", "stop a"]
    assert not container.sync.initialized


async def test_startup_cancelled_as_a_resource_finishes_starting_still_stops_it(
    use_container: UseContainer, record: list[str]
) -> None:
    """A server cancelling the startup at the moment a resource has just started (before the
    startup saw it start) gets the cancellation, and that resource is stopped, not left open."""
    container = use_container("InterruptedStart")
    app = get_asgi_application()
    incoming = asyncio.Queue[dict[str, Any]]()
    await incoming.put({"type": "lifespan.startup"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    server = asyncio.ensure_future(app(scope, incoming.get, send))
    lifecycle_containers.interrupted.append(server)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(server, MARGIN)
    assert server.cancelled()
    assert sent == []
    assert record == ["start plain", "stop plain"]
    assert not container.plain.initialized


async def test_failing_cleanup_of_a_timed_out_start_is_logged_and_the_timeout_reported(
    use_container: UseContainer, record: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A resource whose cleanup raises once its hung start is cancelled: the startup still fails
    with the timeout, the cleanup failure is logged with its traceback, the others stop."""
    use_container("FailingCleanup", STARTUP_TIMEOUT=SHORT)
    summary = (await failed_startup(SHORT + MARGIN)).splitlines()[0]
    assert f"resource 'hang' did not start within {SHORT:g} s (STARTUP_TIMEOUT)" in summary
    assert sorted(record) == ["cleanup hang", "start a", "start hang", "stop a"]
    errors = library_errors(caplog)
    assert any(
        "cleaning up after the failed start of hang failed" in line
        and "CleanupFailed: hang could not release its half-open connection" in line
        for line in errors
    ), errors


async def test_dependency_cycle_fails_the_startup_naming_the_resources_in_it(
    use_container: UseContainer, record: list[str]
) -> None:
    """Resources that need each other cannot start: the startup fails naming them (none of them
    started), and what did start is stopped."""
    container = use_container("Cycle")
    assert "dependency cycle among: a, b" in (await failed_startup()).splitlines()[0]
    assert record == ["start c", "stop c"]
    assert not container.a.initialized
    assert not container.b.initialized


# Shutdown ------------------------------------------------------------------------------------


async def test_shutdown_stops_everything_past_a_failing_and_a_hanging_resource(
    use_container: UseContainer, record: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A resource raising and one hanging past SHUTDOWN_TIMEOUT at shutdown: all the others
    still stop, the server gets shutdown.failed naming both, each failure is logged."""
    use_container("FailingStop", SHUTDOWN_TIMEOUT=SHORT)
    async with drive_lifespan(timeout=SHORT + MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"]
    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    message = failure_message(run, "shutdown")
    assert "broken" in message
    assert "stuck" in message
    for fine in ("base", "other", "plain"):
        assert fine not in message
        assert f"stop {fine}" in record
    assert "stop broken" in record
    assert "abandoned stuck" in record
    # base is needed by both: it stops only after their stops ended, however they ended.
    assert record.index("stop base") > record.index("stop broken")
    assert record.index("stop base") > record.index("abandoned stuck")
    errors = library_errors(caplog)
    assert any("broken" in line and "failed to stop" in line for line in errors), errors
    assert any("stuck" in line and "SHUTDOWN_TIMEOUT" in line for line in errors), errors


async def test_resource_still_stopping_after_its_cancellation_is_abandoned(
    use_container: UseContainer, record: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A resource that goes on stopping after SHUTDOWN_TIMEOUT cancelled it is given one more
    SHUTDOWN_TIMEOUT, then abandoned: shutdown reports it and ends while it is still stopping."""
    use_container("StubbornStop", SHUTDOWN_TIMEOUT=SHORT)
    async with drive_lifespan(timeout=2 * SHORT + MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"]
    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    message = failure_message(run, "shutdown")
    assert "stubborn" in message
    assert "other" not in message
    assert "stop other" in record
    assert "cancelled stubborn" in record
    assert "stopped stubborn" not in record, "shutdown waited for it after all"
    errors = library_errors(caplog)
    assert any("stubborn" in line and "SHUTDOWN_TIMEOUT" in line for line in errors), errors

    holdout = lifecycle_containers.holdout
    holdout.release.set()
    await asyncio.wait_for(holdout.finished.wait(), MARGIN)
    assert record[-1] == "stopped stubborn"


# Hooks ---------------------------------------------------------------------------------------


async def test_hooks_run_in_order_while_the_resources_are_up(
    use_container: UseContainer, record: list[str]
) -> None:
    """Startup hooks run in order once the resources are up; shutdown hooks run in order
    before the resources stop; sync and async hooks alike can use the resources."""
    use_container(
        "Simple",
        ON_STARTUP=[f"{HOOKS}.sync_startup_hook", f"{HOOKS}.async_startup_hook"],
        ON_SHUTDOWN=[f"{HOOKS}.async_shutdown_hook", f"{HOOKS}.sync_shutdown_hook"],
    )
    async with drive_lifespan(timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"], failure_message(run, "startup")
        assert sorted(record[:3]) == ["start a", "start b", "start plain"]
        assert record[3:] == ["sync startup hook (plain open)", "async startup hook (a open)"]
        record.clear()
    assert run.types[-1] == "lifespan.shutdown.complete"
    assert record[:2] == ["async shutdown hook (a open)", "sync shutdown hook (plain open)"]
    assert sorted(record[2:]) == ["stop a", "stop b", "stop plain"]


FAILING_HOOKS = pytest.mark.parametrize(
    ("hook", "failure"),
    [
        ("failing_sync_hook", "HookFailed: the sync hook failed"),
        ("failing_async_hook", "HookFailed: the async hook failed"),
        ("hanging_hook", f"did not finish within {SHORT:g} s"),
    ],
    ids=["sync-raises", "async-raises", "hangs"],
)


@FAILING_HOOKS
async def test_failing_startup_hook_fails_the_startup_and_stops_the_resources(
    use_container: UseContainer, record: list[str], hook: str, failure: str
) -> None:
    """A startup hook that raises or hangs past the timeout fails the startup, naming the hook
    and what went wrong; the resources stop."""
    use_container("Simple", ON_STARTUP=[f"{HOOKS}.{hook}"], STARTUP_TIMEOUT=SHORT)
    message = await failed_startup()
    assert f"{HOOKS}.{hook}" in message
    assert failure in message
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]
    assert record.index("stop b") < record.index("stop a")


@FAILING_HOOKS
async def test_failing_shutdown_hook_is_reported_and_the_resources_still_stop(
    use_container: UseContainer,
    record: list[str],
    caplog: pytest.LogCaptureFixture,
    hook: str,
    failure: str,
) -> None:
    """A shutdown hook that raises or hangs past the timeout is logged and reported as
    shutdown.failed; the hooks after it still run and every resource still stops."""
    use_container(
        "Simple",
        ON_SHUTDOWN=[f"{HOOKS}.{hook}", f"{HOOKS}.async_shutdown_hook"],
        SHUTDOWN_TIMEOUT=SHORT,
    )
    async with drive_lifespan(timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"]
    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert f"{HOOKS}.{hook}" in failure_message(run, "shutdown")
    assert "async shutdown hook (a open)" in record
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]
    errors = library_errors(caplog)
    assert any(hook in line and failure in line for line in errors), errors


# Reporting -----------------------------------------------------------------------------------


class RaisingServer:
    """A server's side of the lifespan that sends the app the messages ``receives`` (by type), and
    whose ``send()`` raises ``error`` when the app sends a message of the type ``raise_on``."""

    def __init__(self, receives: list[str], *, raise_on: str, error: Exception) -> None:
        self.receives = receives
        self.raise_on = raise_on
        self.error = error
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == self.raise_on:
            raise self.error

    async def run(self, timeout: float) -> None:
        """Run the lifespan of the configured app against this server, within ``timeout``."""
        app = get_asgi_application()
        incoming = asyncio.Queue[dict[str, Any]]()
        for message_type in self.receives:
            await incoming.put({"type": message_type})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        await asyncio.wait_for(app(scope, incoming.get, self.send), timeout)


async def test_server_raising_in_send_of_startup_failed_gets_its_error_back(
    use_container: UseContainer,
) -> None:
    """A server whose send() raises on lifespan.startup.failed (Hypercorn does) gets that error
    back: it is how such a server learns that startup failed, and does not serve."""
    use_container("FailingStart")
    server = RaisingServer(
        ["lifespan.startup"],
        raise_on="lifespan.startup.failed",
        error=RuntimeError("Lifespan failure in startup (raised by the server)"),
    )
    with pytest.raises(RuntimeError, match="raised by the server"):
        await server.run(MARGIN)
    assert [message["type"] for message in server.sent] == ["lifespan.startup.failed"]


async def test_server_raising_in_send_of_shutdown_failed_does_not_crash_the_app(
    use_container: UseContainer,
) -> None:
    """A server whose send() raises on lifespan.shutdown.failed (Hypercorn does) does not make
    the app raise a second error: the failure is already reported, and the app returns."""
    use_container("FailingStop", SHUTDOWN_TIMEOUT=SHORT)
    server = RaisingServer(
        ["lifespan.startup", "lifespan.shutdown"],
        raise_on="lifespan.shutdown.failed",
        error=RuntimeError("Lifespan failure in shutdown (raised by the server)"),
    )
    await server.run(SHORT + MARGIN)
    assert [message["type"] for message in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.failed",
    ]


async def test_server_raising_in_send_of_another_message_gets_its_error_back(
    use_container: UseContainer, record: list[str]
) -> None:
    """A send() that raises on a message other than *.failed (the server's connection broke) is
    not hidden: the app raises that error back to the server."""
    use_container("Simple")
    server = RaisingServer(
        ["lifespan.startup", "lifespan.shutdown"],
        raise_on="lifespan.shutdown.complete",
        error=ConnectionResetError("the server went away"),
    )
    with pytest.raises(ConnectionResetError, match="the server went away"):
        await server.run(MARGIN)
    assert [message["type"] for message in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]


class Collector(logging.Handler):
    """A handler that keeps the messages it is given."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize(
    ("propagate", "to_stderr"),
    [(True, False), (False, True)],
    ids=["an-ancestor-handler-shows-it", "no-handler-shows-it"],
)
async def test_failure_is_written_to_stderr_only_when_no_handler_on_the_chain_shows_errors(
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    propagate: bool,
    to_stderr: bool,
) -> None:
    """With the library's own handlers above ERROR, a failure is left to an ancestor's handler
    when it propagates to one, and written to stderr when it reaches no handler for errors."""
    ancestor = Collector(logging.ERROR)
    monkeypatch.setattr(logger, "handlers", [logging.NullHandler(logging.CRITICAL)])
    monkeypatch.setattr(logger, "propagate", propagate)
    monkeypatch.setattr(logging.getLogger(), "handlers", [ancestor])
    logger.setLevel(logging.INFO)
    capsys.readouterr()

    message = "lifespan startup failed: resource 'db' failed to start"
    report_failure(message)

    err = capsys.readouterr().err
    assert err == (f"django_lifespan_di: {message}\n" if to_stderr else "")
    assert ancestor.messages == ([] if to_stderr else [message])


@pytest.mark.parametrize("silence", ["disabled", "level"])
async def test_startup_failure_reaches_stderr_when_the_logger_is_silenced(
    use_container: UseContainer,
    logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
    silence: str,
) -> None:
    """With the library's logger disabled or above ERROR, a startup failure is still written
    to stderr, naming the resource."""
    use_container("FailingStart")
    # Not get_asgi_application(): its django.setup() would re-apply LOGGING, which enables the
    # logger again (and would give the console handler capsys's stream, closed after the test).
    app = LifespanASGIHandler()
    if silence == "disabled":
        logger.disabled = True
    else:
        logger.setLevel(logging.CRITICAL)
    capsys.readouterr()
    async with drive_lifespan(app, timeout=MARGIN) as run:
        pass
    assert run.types == ["lifespan.startup.failed"]
    err = capsys.readouterr().err
    assert "django_lifespan_di: lifespan startup failed" in err
    assert "'c'" in err


async def test_each_resource_start_and_stop_is_logged_once_with_its_duration(
    use_container: UseContainer, caplog: pytest.LogCaptureFixture
) -> None:
    """One INFO line per resource started and one per resource stopped, with name and ms."""
    use_container("Simple")
    caplog.set_level(logging.INFO, logger="django_lifespan_di")
    async with drive_lifespan(timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"]
    assert run.types[-1] == "lifespan.shutdown.complete"
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "django_lifespan_di" and record.levelno == logging.INFO
    ]
    for name in ("a", "b", "plain"):
        for verb in ("started", "stopped"):
            pattern = re.compile(rf"\b{verb} {name} in \d+(\.\d+)? ms$")
            matching = [line for line in lines if pattern.search(line)]
            assert len(matching) == 1, (verb, name, lines)


async def test_lifecycle_records_carry_the_resource_and_duration_as_fields(
    use_container: UseContainer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each start, stop and failure record has ``django_lifespan_di_resource`` (and, where a
    step was timed, ``duration_ms``) as structured fields: JSON logs need no regex."""
    use_container("FailingStart")
    caplog.set_level(logging.INFO, logger="django_lifespan_di")
    await failed_startup()
    records = [r for r in caplog.records if r.name == "django_lifespan_di"]
    by_message = {r.getMessage().split(" in ")[0]: r for r in records}
    for message, resource in [("started a", "a"), ("started b", "b"), ("stopped a", "a")]:
        record = by_message[message]
        assert getattr(record, "django_lifespan_di_resource", None) == resource
        assert getattr(record, "duration_ms", -1) >= 0
    failure = next(r for r in records if r.getMessage().startswith("lifespan startup failed"))
    assert getattr(failure, "django_lifespan_di_resource", None) == "c"


# Other scopes --------------------------------------------------------------------------------


class RecordingApp:
    """An inner ASGI app that records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], Any, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls.append((scope, receive, send))


async def receive_nothing() -> dict[str, Any]:
    raise AssertionError("the app should not receive")


async def send_nothing(message: dict[str, Any]) -> None:
    raise AssertionError(f"the app should not send {message!r}")


async def test_handler_passes_a_websocket_scope_to_django() -> None:
    """LifespanASGIHandler hands a non-lifespan scope to Django, which refuses websockets."""
    scope = {"type": "websocket", "path": "/ws", "asgi": {"version": "3.0"}}
    handler = LifespanASGIHandler()
    with pytest.raises(
        ValueError, match="Django can only handle ASGI/HTTP connections, not websocket"
    ):
        await handler(scope, receive_nothing, send_nothing)


@pytest.mark.parametrize("scope_type", ["http", "websocket"])
async def test_middleware_passes_other_scopes_to_the_inner_app_untouched(
    scope_type: str,
) -> None:
    """LifespanMiddleware hands http and websocket scopes, receive and send to the inner app."""
    inner = RecordingApp()
    scope = {"type": scope_type, "path": "/somewhere", "asgi": {"version": "3.0"}}
    expected = dict(scope)
    await LifespanMiddleware(inner)(scope, receive_nothing, send_nothing)
    assert len(inner.calls) == 1
    seen_scope, seen_receive, seen_send = inner.calls[0]
    assert seen_scope is scope
    assert seen_scope == expected
    assert seen_receive is receive_nothing
    assert seen_send is send_nothing


async def test_middleware_handles_the_lifespan_itself(
    use_container: UseContainer, record: list[str]
) -> None:
    """LifespanMiddleware runs the lifespan (starting the resources) without the inner app."""
    use_container("Simple")
    inner = RecordingApp()
    async with drive_lifespan(LifespanMiddleware(inner), timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"]
        assert set(run.state[STATE_KEY]) == {"a", "b", "plain"}
    assert run.types[-1] == "lifespan.shutdown.complete"
    assert inner.calls == []
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]


# Nested containers ---------------------------------------------------------------------------


async def test_nested_container_resources_are_started_and_stopped_under_dotted_names(
    use_container: UseContainer, record: list[str]
) -> None:
    """Resources of a nested container start and stop too, named "<container>.<resource>"."""
    container = use_container("Nested")
    async with drive_lifespan(timeout=MARGIN) as run:
        assert run.types == ["lifespan.startup.complete"], failure_message(run, "startup")
        started = run.state[STATE_KEY]
        assert set(started) == {"clients.http", "clients.cache", "api"}
        assert started["api"].needs == (started["clients.http"],)
        assert container.clients.http() is started["clients.http"]
    assert run.types[-1] == "lifespan.shutdown.complete"
    assert sorted(e for e in record if e.startswith("stop")) == [
        "stop api",
        "stop clients.cache",
        "stop clients.http",
    ]
    assert record.index("start clients.http") < record.index("start api")
    assert record.index("stop api") < record.index("stop clients.http")


# Every way a lifespan ends -------------------------------------------------------------------


@pytest.mark.parametrize("container", ["CancelledStart", "AbortedStart"])
async def test_a_start_ending_in_a_base_exception_is_a_failed_startup_rolled_back(
    use_container: UseContainer, record: list[str], container: str
) -> None:
    """An initializer raising CancelledError (its own) or another BaseException fails the
    startup like any error: what started is stopped, the server gets startup.failed."""
    use_container(container)
    message = await failed_startup()

    assert "resource 'b' failed to start" in message
    assert record == ["start a", "start b", "stop a"]


class Script:
    """A server's side of the lifespan, message by message, recording what the app sent."""

    def __init__(self, *messages: dict[str, Any] | BaseException) -> None:
        self.messages = list(messages)
        self.sent: list[str] = []
        self.drained = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if not self.messages:
            self.drained.set()
            await asyncio.Event().wait()  # a server that says nothing more
        message = self.messages.pop(0)
        if isinstance(message, BaseException):
            raise message
        return message

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message["type"])

    async def run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        await asyncio.wait_for(get_asgi_application()(scope, self.receive, self.send), MARGIN)


STARTUP = {"type": "lifespan.startup"}


async def test_the_lifespan_task_cancelled_after_startup_still_stops_every_resource(
    use_container: UseContainer, record: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelled while it waits for lifespan.shutdown (uvicorn on a second Ctrl-C), the
    lifespan still stops every resource, dependents first, and says why."""
    use_container("Simple")
    script = Script(STARTUP)
    task = asyncio.ensure_future(script.run())
    await asyncio.wait_for(script.drained.wait(), MARGIN)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task

    assert script.sent == ["lifespan.startup.complete"]
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]
    assert record.index("stop b") < record.index("stop a")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cancelled before lifespan.shutdown" in line for line in warnings), warnings


async def test_receive_raising_after_startup_still_stops_every_resource(
    use_container: UseContainer, record: list[str]
) -> None:
    """A server whose receive() raises after the startup: the resources are stopped, and the
    server's error goes back to it."""
    use_container("Simple")
    script = Script(STARTUP, ConnectionResetError("the server's channel broke"))

    with pytest.raises(ConnectionResetError, match="channel broke"):
        await script.run()

    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        pytest.param(
            [{"type": "lifespan.shutdown"}], "expected lifespan.startup first", id="shutdown-first"
        ),
        pytest.param(
            [{"type": "lifespan.launch"}], "expected lifespan.startup first", id="unknown-first"
        ),
        pytest.param([{}], "expected lifespan.startup first", id="no-type-first"),
        pytest.param([STARTUP, STARTUP], "expected lifespan.shutdown after", id="startup-twice"),
        pytest.param(
            [STARTUP, {"type": "lifespan.pause"}],
            "expected lifespan.shutdown after",
            id="unknown-after",
        ),
        pytest.param(
            [STARTUP, {"no": "type"}], "expected lifespan.shutdown after", id="no-type-after"
        ),
    ],
)
async def test_a_message_out_of_order_is_a_clear_error_and_nothing_stays_started(
    use_container: UseContainer,
    record: list[str],
    caplog: pytest.LogCaptureFixture,
    messages: list[dict[str, Any]],
    complaint: str,
) -> None:
    """Startup twice, shutdown before startup, an unknown type or none: the app raises a
    LifespanProtocolError saying what it expected, logs it, and stops what it started."""
    use_container("Simple")
    script = Script(*messages)

    with pytest.raises(LifespanProtocolError, match=complaint):
        await script.run()

    started = [e for e in record if e.startswith("start")]
    stopped = [e for e in record if e.startswith("stop")]
    assert len(started) == len(stopped)
    assert any(complaint in line for line in library_errors(caplog))


async def test_a_stock_async_resource_failing_to_start_needs_no_clean_up(
    use_container: UseContainer, record: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A stock async-generator Resource raising before its yield fails the startup once, and
    its clean-up (nothing to close) logs no second error."""
    use_container("FailingStockAsyncStart")
    message = await failed_startup()

    assert "resource 'broken' failed to start" in message
    errors = library_errors(caplog)
    assert not any("cleaning up" in error for error in errors), errors


def _lifecycle_of(name: str, shutdown_timeout: float = MARGIN) -> Lifecycle:
    """A Lifecycle of the test container ``name``, built as the library builds one."""
    container = getattr(lifecycle_containers, name)()
    return Lifecycle(container, startup_timeout=MARGIN, shutdown_timeout=shutdown_timeout)


async def test_a_lifecycle_is_an_async_context_manager(record: list[str]) -> None:
    """``async with lifecycle as started:`` starts before the block and stops after it."""
    async with _lifecycle_of("Simple") as started:
        assert set(started) == {"a", "b", "plain"}
        assert not any(e.startswith("stop") for e in record)
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]


async def test_the_blocks_own_error_wins_over_a_shutdown_failure(record: list[str]) -> None:
    """A block that raises gets its own error back, the resources stopped; a clean block gets
    the ShutdownError naming what failed to stop."""
    with pytest.raises(KeyError, match="the body's own"):
        async with _lifecycle_of("FailingStop", SHORT):
            raise KeyError("the body's own")
    assert "stop other" in record
    with pytest.raises(ShutdownError, match="broken"):
        async with _lifecycle_of("FailingStop", SHORT):
            pass
