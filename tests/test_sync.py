"""``django_lifespan_di.sync``: one background event loop per process owns the async resources."""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from django_lifespan_di import ShutdownError, StartupError, _background, inject, sync
from tests import sync_containers
from tests.sync_containers import POOL_LIMIT, container_settings
from tests.upstream import Upstream

CALLS = 40


def background_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "django_lifespan_di loop"]


def test_sync_calls_share_one_session_and_the_pool(pooled: Upstream) -> None:
    """Many sync calls reuse one session: at most the pool's limit of upstream connections."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as executor:
        results = list(executor.map(sync_containers.fetch, [f"u{i}" for i in range(CALLS)]))
    assert [result["user"] for result in results] == [f"u{i}" for i in range(CALLS)]
    assert len(pooled.requests) == CALLS
    assert 1 <= len(pooled.connections) <= POOL_LIMIT
    sessions = {id(sync_containers.session_of_sync_caller()) for _ in range(3)}
    assert len(sessions) == 1


def test_async_to_sync_opens_a_session_per_call(pooled: Upstream) -> None:
    """The control: async_to_sync runs each call on a new loop, so a new session and connection."""
    fetch = async_to_sync(inject(sync_containers.fetch_data))
    for i in range(5):
        fetch(f"u{i}")
    assert len(pooled.transports) == 5
    assert background_threads() == []


def test_started_lazily_and_stopped_in_order(pooled: Upstream) -> None:
    """The first call starts every resource; stop() runs the ordered shutdown, ends the thread."""
    assert background_threads() == []
    sync_containers.fetch("a")
    assert len(background_threads()) == 1
    assert set(sync_containers.events) == {"start audit", "start client"}
    sync.stop()
    assert sync_containers.events[-2:] in (
        ["stop client", "stop audit"],
        ["stop audit", "stop client"],
    )
    assert sync_containers.events.count("stop client") == 1
    assert background_threads() == []
    sync.stop()  # stopping twice is harmless
    assert sync_containers.events.count("stop client") == 1


def test_explicit_start_logs_one_line_per_resource(
    pooled: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """start() runs the lifecycle at once, with its log lines; a second start() is a no-op."""
    with caplog.at_level("INFO", logger="django_lifespan_di"):
        assert sync.start() is True
        assert sync.start() is False
    started = sorted(r.getMessage().split(" in ")[0] for r in caplog.records)
    assert started == ["started audit", "started client", "started http_session"]


def test_run_returns_the_coroutine_result(pooled: Upstream) -> None:
    """run() runs a coroutine on the background loop, where the started session is injected."""
    session = sync.run(sync_containers.session_here())
    assert session is sync_containers.session_of_sync_caller()
    assert sync.run(asyncio.sleep(0, "done")) == "done"


def test_run_raises_what_the_coroutine_raised(pooled: Upstream) -> None:
    """An exception of the coroutine reaches the sync caller; the loop keeps serving."""

    async def fail() -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        sync.run(fail())
    assert sync_containers.fetch("b")["user"] == "b"


@pytest.mark.asyncio
async def test_run_inside_an_event_loop_is_an_error(pooled: Upstream) -> None:
    """Inside a running loop run() refuses at once (a clear error, never a deadlock)."""
    coroutine = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match=r"inside a running event loop.*await the coroutine"):
        sync.run(coroutine)
    with pytest.raises(RuntimeError, match="inside a running event loop"):
        sync.start()
    with pytest.raises(RuntimeError, match="inside a running event loop"):
        sync.stop()
    assert background_threads() == []


def test_run_on_the_background_loop_itself_is_an_error(pooled: Upstream) -> None:
    """A coroutine on the background loop calling a sync-injected function fails, not hangs."""

    async def nested() -> Any:
        return sync_containers.fetch("c")

    with pytest.raises(RuntimeError, match="inside a running event loop"):
        sync.run(nested())


def test_startup_failure_names_the_resource_and_leaves_nothing_running(upstream: Upstream) -> None:
    """A resource that fails to start: StartupError naming it, the others stopped, no thread."""
    sync_containers.events.clear()
    with container_settings("Failing"):
        with pytest.raises(StartupError, match="resource 'broken' failed to start") as raised:
            sync.run(asyncio.sleep(0))
        assert raised.value.name == "broken"
        assert background_threads() == []
        assert _background.running_lifecycle() is None
        assert "stop audit" in sync_containers.events or "start audit" not in (
            sync_containers.events
        )
        with pytest.raises(StartupError):
            sync.start()  # still failing: tried again, not remembered as started
    assert background_threads() == []


def test_shutdown_failure_is_raised_after_stopping_the_loop(pooled: Upstream) -> None:
    """A resource that fails to stop: ShutdownError naming it, and the loop is gone anyway."""
    sync.start()
    lifecycle = _background.running_lifecycle()
    assert lifecycle is not None

    async def failing_hook() -> None:
        raise RuntimeError("hook broke")

    lifecycle.on_shutdown = (failing_hook,)
    with pytest.raises(ShutdownError, match="failing_hook"):
        sync.stop()
    assert background_threads() == []


def test_interrupted_call_cancels_its_coroutine(
    pooled: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync caller interrupted while waiting (Ctrl-C) cancels what it was waiting for."""
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cancelled.set()

    class Interrupt(BaseException):
        """Stands for the KeyboardInterrupt a signal raises in the waiting thread."""

    submit = asyncio.run_coroutine_threadsafe

    def interrupted_wait(coroutine: Any, loop: Any) -> Any:
        future = submit(coroutine, loop)
        monkeypatch.setattr(future, "result", lambda: (_ for _ in ()).throw(Interrupt()))
        return future

    sync.start()
    monkeypatch.setattr(_background.asyncio, "run_coroutine_threadsafe", interrupted_wait)
    with pytest.raises(Interrupt):
        sync.run(slow())
    monkeypatch.undo()
    assert cancelled.wait(10)


def test_exit_stops_the_loop_and_each_resource_once(pooled: Upstream, tmp_path: Any) -> None:
    """At interpreter exit the background loop stops itself: each resource stopped once."""
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "from tests import sync_containers\n"
        "print(sync_containers.fetch('exit')['user'])\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync_settings",
        "UPSTREAM_URL": pooled.url,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exit\n"
    for name in ("audit", "client", "http_session"):
        assert done.stderr.count(f"stopped {name} in") == 1, done.stderr


def test_sync_inject_needs_a_marker() -> None:
    """sync.inject on a function without markers says what to do."""

    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="has no Provide"):
        sync.inject(plain)


def test_sync_inject_keeps_given_arguments(pooled: Upstream) -> None:
    """An argument the caller passes is used, not injected, and the signature hides the
    injected parameter, as django_lifespan_di.inject's does."""
    import inspect

    assert sync_containers.session_of_sync_caller(session="mine") == "mine"
    assert background_threads() == []  # nothing to resolve: the loop was not even started
    assert "session" not in inspect.signature(sync_containers.session_of_sync_caller).parameters


def test_forked_child_starts_its_own_loop(pooled: Upstream) -> None:
    """After fork, a child never reuses its parent's loop: it starts its own, then stops it."""
    sync_containers.fetch("parent")
    parent_connections = set(pooled.connections)
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+: fork() of a threaded process (the upstream's, the loop's) is deprecated;
        # what this checks is precisely that the child does not use the threads it lost.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process; its coverage is not collected
        code = 1
        try:
            fresh = _background.running_lifecycle() is None
            result = sync_containers.fetch("child")
            sync.stop()
            code = 0 if fresh and result["user"] == "child" else 2
        finally:
            os.write(write, str(code).encode())
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as reader:
        child_said = reader.read()
    _, status = os.waitpid(pid, 0)
    assert child_said == "0"
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(pooled.connections - parent_connections) == 1  # the child's own connection
    assert sync_containers.fetch("parent again")["user"] == "parent again"


def test_abandoned_loop_instances_are_forgotten_unclosed() -> None:
    """abandon_loop (a forked child's view of its parent's loop) forgets, never closes."""
    from django_lifespan_di import LifespanResource
    from django_lifespan_di._resource import abandon_loop

    sync_containers.events.clear()
    resource = LifespanResource(sync_containers.tracked, "inherited")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(sync_containers.started(resource))
        assert resource.ready_instance is not None
        (state,) = abandon_loop(loop)
        assert resource.ready_instance is None
        assert not resource._states
        assert abandon_loop(loop) == []
        assert sync_containers.events == ["start inherited"]
        resource._states[loop] = state  # type: ignore[assignment]  # back, to close it here
        loop.run_until_complete(sync_containers.stopped(resource))
    finally:
        loop.close()
    assert sync_containers.events == ["start inherited", "stop inherited"]


def test_stop_winds_down_leftover_tasks(pooled: Upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task left running on the loop is given a bounded time, then cancelled, at stop()."""
    monkeypatch.setattr(_background, "DRAIN_TIMEOUT", 0.05)
    cancelled = threading.Event()

    async def linger() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cancelled.set()

    async def leave_behind() -> None:
        sync_containers.leftovers.append(asyncio.ensure_future(linger()))

    sync.run(leave_behind())
    sync.stop()
    assert cancelled.is_set()
    sync_containers.leftovers.clear()


def test_fork_hook_forgets_the_parent_loop(
    pooled: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The after-fork hook (run here, in the parent) makes the process start a loop of its own."""
    _background._after_fork_in_child()  # nothing running: nothing to forget
    assert _background._inherited == []
    sync.start()
    parent = _background._current
    assert parent is not None
    # The resources' instances stay known (abandon_loop has its own test), so stop() closes them.
    monkeypatch.setattr(_background, "abandon_loop", lambda loop: [])
    _background._after_fork_in_child()
    try:
        assert _background.running_lifecycle() is None
        assert parent in _background._inherited
    finally:
        _background._inherited.clear()
        _background._current = parent  # given back: the fixture's stop() stops it
