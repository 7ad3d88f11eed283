"""REQUEST_THREADS: reusable request threads, as a server and Django see them (issue #7).

Real Django, real threads: requests go through ``LifespanASGIHandler.__call__`` as a server sends
them, and a sqlite file database with persistent connections shows what happens to the
connection each request thread keeps.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.checks import run_checks
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import override_settings

from django_lifespan_di import conf
from django_lifespan_di._request_threads import (
    RequestThread,
    RequestThreadPool,
    _close_pools_at_exit,
)
from django_lifespan_di.asgi import LifespanASGIHandler
from tests import request_threads_views as views
from tests.driver import drive_lifespan
from tests.reporting import assert_reported, check_command_report, reported_by
from tests.request_threads_helpers import (
    TIMEOUT,
    DbRecorder,
    Exchange,
    get,
    wait_for_event,
    wait_until,
)
from tests.request_threads_views import DB_ALIAS, Gate, Probe, thread_key

SETTING = "DJANGO_LIFESPAN_DI"
NAME = f"{SETTING}['REQUEST_THREADS']"
HELPERS = "tests.request_threads_helpers"
VIEWS = "tests.request_threads_views"
REPO_ROOT = Path(__file__).resolve().parent.parent
MISSING = object()
"""Stands for "no REQUEST_THREADS key at all"."""

needs_executor = pytest.mark.skipif(
    not conf._asgiref_has_executor(),
    reason="REQUEST_THREADS needs asgiref >= 3.13 (ThreadSensitiveContext(executor=...))",
)
needs_disconnect_listener = pytest.mark.skipif(
    django.VERSION < (5, 0), reason="Django < 5.0 does not listen for a client disconnect"
)

django_leaks_the_body_of_a_cancelled_request = pytest.mark.filterwarnings(
    # Django's ASGIHandler (stock too) does not close the request body's temporary file when
    # its task is cancelled while reading the body (or, before 6.1, anywhere): the GC does,
    # with a ResourceWarning.
    "ignore:Unclosed file <tempfile.SpooledTemporaryFile:ResourceWarning"
)

MakeApp = Callable[..., LifespanASGIHandler]


# Fixtures --------------------------------------------------------------------------------------


@pytest.fixture(name="probe")
def fixture_probe() -> Iterator[Probe]:
    """A fresh probe for the views; whatever still blocks on it is let go after the test."""
    yield views.reset()
    views.reset()


@pytest.fixture(name="make_app")
def fixture_make_app(probe: Probe) -> Iterator[MakeApp]:
    """Build the handler with a REQUEST_THREADS value, serving the request-thread views."""
    apps: list[LifespanASGIHandler] = []
    with ExitStack() as stack:

        def make(
            request_threads: object = True, *, container: str = "Empty"
        ) -> LifespanASGIHandler:
            block: dict[str, Any] = {
                "CONTAINER": f"{HELPERS}.{container}",
                "STARTUP_TIMEOUT": TIMEOUT,
                "SHUTDOWN_TIMEOUT": TIMEOUT,
            }
            if request_threads is not MISSING:
                block["REQUEST_THREADS"] = request_threads
            stack.enter_context(override_settings(ROOT_URLCONF=VIEWS, DJANGO_LIFESPAN_DI=block))
            app = LifespanASGIHandler()  # reads REQUEST_THREADS now
            apps.append(app)
            return app

        yield make
        views.reset()  # let go of blocked calls before the pools close
        for app in apps:
            if app.request_threads is not None:
                app.request_threads.close()


@pytest.fixture(name="thread_db")
def fixture_thread_db(tmp_path: Path, django_db_blocker: Any) -> Iterator[DbRecorder]:
    """A sqlite file database under :data:`DB_ALIAS` with persistent connections, recorded.

    Added to ``connections`` directly: overriding DATABASES is not supported by Django, and the
    in-memory default database ignores ``close()``, so it could not show a connection closing.
    """
    recorder = DbRecorder()
    options = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "threads.sqlite3")}
    connections.settings[DB_ALIAS] = connections.configure_settings(
        {"default": {**options, "CONN_MAX_AGE": None}}
    )["default"]
    connection_created.connect(recorder.record, weak=False, dispatch_uid="request-threads-db")
    try:
        with django_db_blocker.unblock():
            yield recorder
    finally:
        connection_created.disconnect(dispatch_uid="request-threads-db")
        recorder.close_all()
        del connections.settings[DB_ALIAS]


class SignalLog:
    """The threads request_started and request_finished ran on, and any thread they overlapped.

    A thread is "taken" from a request_started on it to the next request_finished on it; one
    that two requests took at the same time is an overlap.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, int]] = []
        self.overlaps: list[int] = []
        self._taken: set[int] = set()

    def started(self, sender: Any, **kwargs: Any) -> None:
        key = thread_key()
        with self._lock:
            self.events.append(("started", key))
            if key in self._taken:
                self.overlaps.append(key)
            self._taken.add(key)

    def finished(self, sender: Any, **kwargs: Any) -> None:
        key = thread_key()
        with self._lock:
            self.events.append(("finished", key))
            self._taken.discard(key)


@pytest.fixture(name="signal_log")
def fixture_signal_log() -> Iterator[SignalLog]:
    """Records the threads Django's request signals run on."""
    log = SignalLog()
    request_started.connect(log.started, weak=False, dispatch_uid="request-threads-log")
    request_finished.connect(log.finished, weak=False, dispatch_uid="request-threads-log")
    yield log
    request_started.disconnect(dispatch_uid="request-threads-log")
    request_finished.disconnect(dispatch_uid="request-threads-log")


@pytest.fixture(name="django_calls")
def fixture_django_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scope types that reached Django's own ``ASGIHandler.__call__``."""
    calls: list[str] = []
    stock = ASGIHandler.__call__

    async def spy(self: ASGIHandler, scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        await stock(self, scope, receive, send)

    monkeypatch.setattr(ASGIHandler, "__call__", spy)
    return calls


def pool_of(app: LifespanASGIHandler) -> RequestThreadPool:
    assert app.request_threads is not None
    return app.request_threads


def name_of(key: int) -> str:
    return views.threads[key].name


async def ended(key: int) -> bool:
    """Whether the thread ``key`` ends (bounded wait): a closed request thread does."""
    thread = views.threads[key]
    await asyncio.to_thread(thread.join, TIMEOUT)
    return not thread.is_alive()


async def assert_closed(thread_db: DbRecorder, *keys: int) -> None:
    """The threads ``keys`` end, and no request thread's database connection is left open."""
    for key in keys:
        assert await ended(key)
    assert thread_db.still_open == 0


async def on_separate_threads(app: LifespanASGIHandler, probe: Probe, count: int) -> list[int]:
    """The thread keys of ``count`` ``/gated-db`` requests held until all are in flight (so each
    has a thread, and a connection, of its own)."""
    probe.barrier = threading.Barrier(count)
    exchanges = await asyncio.gather(*(get(app, "/gated-db") for _ in range(count)))
    return [exchange.thread for exchange in exchanges]


def key_of(thread: RequestThread) -> int:
    """The key of the OS thread behind a request thread."""
    return thread.submit(thread_key).result(TIMEOUT)


def open_connection() -> int:
    """Run a query on the calling thread (which opens its connection); return its key."""
    with connections[DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return thread_key()


# Configuration ---------------------------------------------------------------------------------


def with_request_threads(value: object) -> Any:
    """The test project's settings with ``REQUEST_THREADS`` set to ``value``."""
    block = {"CONTAINER": "tests.project.containers.Container", "REQUEST_THREADS": value}
    return override_settings(**{SETTING: block})


EXPECTED = (
    "expected None (off, the default), True, or a dict with the keys MAX_IDLE, IDLE_TIMEOUT "
    "(defaults {'MAX_IDLE': 16, 'IDLE_TIMEOUT': 60.0})."
)
WHOLE_NUMBER = (
    "expected a whole number >= 1 (size it to what your database accepts: each idle thread may "
    "keep a connection)."
)


@reported_by
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("on", id="string"),
        pytest.param(1, id="one-not-true"),
        pytest.param([("MAX_IDLE", 4)], id="list"),
        pytest.param({"MAX_IDEL": 4}, id="misspelt-key"),
    ],
)
def test_request_threads_mistake_is_reported(report: Callable[[], str], value: object) -> None:
    """A REQUEST_THREADS that is not None, a bool or a dict of known keys is E011."""
    with with_request_threads(value):
        text = report()
    assert_reported(text, "E011", [f"{NAME} is {value!r}; {EXPECTED}"])


@reported_by
@pytest.mark.parametrize("max_idle", [0, -1, 2.0, True, "4", None])
def test_max_idle_mistake_is_reported(report: Callable[[], str], max_idle: object) -> None:
    """MAX_IDLE must be a whole number >= 1 (E011); the message says how to size it."""
    with with_request_threads({"MAX_IDLE": max_idle}):
        text = report()
    assert_reported(text, "E011", [f"{NAME}['MAX_IDLE'] is {max_idle!r}; {WHOLE_NUMBER}"])


@reported_by
@pytest.mark.parametrize("timeout", [0, -1, "60", float("nan"), float("inf"), True, None])
def test_idle_timeout_mistake_is_reported_as_a_timeout(
    report: Callable[[], str], timeout: object
) -> None:
    """A wrong IDLE_TIMEOUT is reported like the other timeouts (E008), naming REQUEST_THREADS."""
    with with_request_threads({"IDLE_TIMEOUT": timeout}):
        text = report()
    assert_reported(
        text,
        "E008",
        [
            f"{NAME}['IDLE_TIMEOUT'] is {timeout!r}; "
            "expected a positive, finite number of seconds (default 60.0)."
        ],
    )


@reported_by
@pytest.mark.parametrize("value", [True, {"MAX_IDLE": 4, "IDLE_TIMEOUT": 5}])
def test_request_threads_need_an_asgiref_with_the_executor_parameter(
    report: Callable[[], str], value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an asgiref whose ThreadSensitiveContext takes no executor, turning it on is E012."""
    monkeypatch.setattr(conf, "_asgiref_has_executor", lambda: False)
    with with_request_threads(value):
        text = report()
    assert_reported(
        text,
        "E012",
        [
            f"{NAME} needs asgiref >= 3.13 (ThreadSensitiveContext(executor=...)); "
            "upgrade asgiref, or turn REQUEST_THREADS off."
        ],
    )


@pytest.mark.skipif(conf._asgiref_has_executor(), reason="the installed asgiref has it")
def test_installed_asgiref_without_the_executor_parameter_reports_e012() -> None:
    """The real check: with the installed (older) asgiref, REQUEST_THREADS on is E012."""
    with with_request_threads(True):
        text = check_command_report()
    assert_reported(text, "E012", [f"{NAME} needs asgiref >= 3.13"])


@pytest.mark.asyncio
async def test_handler_with_a_broken_request_threads_setting_has_no_pool(
    make_app: MakeApp,
) -> None:
    """A wrong setting builds no pool: the checks report it and fail the lifespan startup."""
    app = make_app("on")
    assert app.request_threads is None
    async with drive_lifespan(app, timeout=TIMEOUT) as run:
        assert run.types == ["lifespan.startup.failed"]
        assert "(django_lifespan_di.E011) " in run.sent[0]["message"]


@pytest.mark.parametrize("value", [MISSING, None, False], ids=["missing", "none", "false"])
def test_request_threads_are_off_by_default(make_app: MakeApp, value: object) -> None:
    """Missing, None and False all mean off: the handler has no pool and the checks pass."""
    app = make_app(value)
    assert app.request_threads is None
    assert not [m for m in run_checks(tags=["django_lifespan_di"]) if m.is_serious()]


@needs_executor
@pytest.mark.parametrize(
    ("value", "max_idle", "idle_timeout"),
    [
        pytest.param(True, 16, 60.0, id="true"),
        pytest.param({}, 16, 60.0, id="empty-dict"),
        pytest.param({"MAX_IDLE": 1}, 1, 60.0, id="max-idle"),
        pytest.param({"IDLE_TIMEOUT": 2}, 16, 2.0, id="idle-timeout"),
        pytest.param({"MAX_IDLE": 3, "IDLE_TIMEOUT": 0.5}, 3, 0.5, id="both"),
    ],
)
def test_request_threads_on_builds_a_pool_with_its_limits(
    make_app: MakeApp, value: object, max_idle: int, idle_timeout: float
) -> None:
    """True or a dict turns the pool on, with the given limits or the defaults (16, 60 s)."""
    app = make_app(value)
    pool = pool_of(app)
    assert (pool.max_idle, pool.idle_timeout) == (max_idle, idle_timeout)
    assert pool.idle == 0
    assert not [m for m in run_checks(tags=["django_lifespan_di"]) if m.is_serious()]


# Off: exactly stock Django ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_off_each_request_gets_a_fresh_thread_from_django(
    make_app: MakeApp, django_calls: list[str]
) -> None:
    """Off, Django's own ASGIHandler serves each request, on a new thread every time."""
    app = make_app(None)
    async with drive_lifespan(app, timeout=TIMEOUT) as run:
        assert run.types == ["lifespan.startup.complete"]
        keys = [(await get(app, "/sync-calls")).thread for _ in range(3)]
    assert django_calls == ["http"] * 3
    assert len(set(keys)) == 3
    assert not any(name_of(key).startswith("django-request") for key in keys)


@needs_executor
@pytest.mark.asyncio
async def test_on_a_non_http_scope_still_goes_to_django(
    make_app: MakeApp, django_calls: list[str]
) -> None:
    """On, only HTTP requests get a pooled thread; other scopes go to Django, which refuses them."""
    app = make_app(True)
    with pytest.raises(ValueError, match="Django can only handle ASGI/HTTP connections"):
        await app({"type": "websocket", "path": "/"}, None, None)
    assert django_calls == ["websocket"]
    assert pool_of(app).idle == 0


# Thread identity -------------------------------------------------------------------------------


@needs_executor
@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/sync-calls?calls=5", "/sync-view"], ids=["async", "sync"])
async def test_a_request_keeps_one_thread_and_the_next_request_reuses_it(
    make_app: MakeApp, django_calls: list[str], path: str
) -> None:
    """Every thread-sensitive call of a request runs on one pooled thread, reused sequentially."""
    app = make_app(True)
    async with drive_lifespan(app, timeout=TIMEOUT):
        first = await get(app, path)
        second = await get(app, path)
        assert len(first.threads) == (5 if "calls" in path else 1)
        assert first.thread == second.thread
        assert name_of(first.thread).startswith("django-request")
        assert pool_of(app).idle == 1
    assert django_calls == []


@needs_executor
@pytest.mark.asyncio
@pytest.mark.parametrize("max_idle", [20, 4])
async def test_overlapping_requests_never_share_a_thread_and_later_waves_reuse_them(
    make_app: MakeApp, probe: Probe, signal_log: SignalLog, max_idle: int
) -> None:
    """10 waves of 20 requests in flight at once: one thread each, reused by the next waves.

    Threads beyond ``max_idle`` wait ``surplus_grace`` for a request before they are closed, so
    waves that follow one another closely reuse all of them."""
    waves, size = 10, 20
    app = make_app({"MAX_IDLE": max_idle})
    pool = pool_of(app)
    pool.surplus_grace = 60  # longer than the waves take, however slow the machine
    seen: list[list[int]] = []
    async with drive_lifespan(app, timeout=TIMEOUT):
        for _ in range(waves):
            probe.gate = Gate(size)  # holds every request until the whole wave is in flight
            wave = await asyncio.gather(*(get(app, "/sync-calls?calls=4") for _ in range(size)))
            keys = [exchange.thread for exchange in wave]  # one thread per request
            assert len(set(keys)) == size, "two requests in flight shared a thread"
            assert pool.idle == size
            seen.append(keys)
        pool.surplus_grace = 0
        pool.trim()
        assert pool.idle == min(size, max_idle)
    assert signal_log.overlaps == []
    assert len(signal_log.events) == 2 * waves * size
    distinct = {key for keys in seen for key in keys}
    assert len(distinct) == size  # the first wave's threads served every later wave


@needs_executor
@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/sync-calls", "/sync-view"], ids=["async", "sync"])
async def test_request_signals_run_on_the_request_thread(
    make_app: MakeApp, signal_log: SignalLog, path: str
) -> None:
    """request_started and request_finished run on the thread of the request they belong to."""
    app = make_app(True)
    async with drive_lifespan(app, timeout=TIMEOUT):
        key = (await get(app, path)).thread
    assert signal_log.events == [("started", key), ("finished", key)]


# Requests that end badly -----------------------------------------------------------------------


@needs_executor
@needs_disconnect_listener
@pytest.mark.asyncio
async def test_client_disconnect_during_a_sync_call_leaves_the_pool_healthy(
    make_app: MakeApp, probe: Probe, signal_log: SignalLog
) -> None:
    """A client leaves during a sync call: others are served meanwhile, never on its thread."""
    app = make_app(True)
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT):
        disconnect = asyncio.Event()
        aborted = asyncio.ensure_future(get(app, "/block", disconnect=disconnect))
        await wait_for_event(probe.entered)
        disconnect.set()  # Django cancels the view; its sync call runs on regardless

        others = await asyncio.gather(*(get(app, "/sync-calls") for _ in range(3)))
        assert probe.blocked_on not in {exchange.thread for exchange in others}
        assert pool.idle == 3  # the abandoned call's thread is not in the pool

        probe.release.set()
        exchange: Exchange = await asyncio.wait_for(aborted, TIMEOUT)
        assert exchange.sent == []  # no response to a client that left
        # Django ran request_finished on the thread after the abandoned call ended, so the
        # thread came back clean and idle, and the next request may use it.
        assert pool.idle == 4
        assert (await get(app, "/sync-view")).thread == probe.blocked_on
    assert signal_log.overlaps == []


@needs_executor
@pytest.mark.asyncio
@django_leaks_the_body_of_a_cancelled_request
async def test_a_request_cancelled_during_a_sync_call_retires_its_thread(
    make_app: MakeApp, probe: Probe
) -> None:
    """A server cancelling a request whose sync call still runs retires the thread, once done."""
    app = make_app(True)
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT):
        reused = (await get(app, "/sync-view")).thread
        tasks = asyncio.all_tasks()
        request = asyncio.ensure_future(get(app, "/block"))
        await wait_for_event(probe.entered)
        assert probe.blocked_on == reused
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        del request
        assert pool.idle == 0

        following = await get(app, "/sync-view")
        assert following.thread != probe.blocked_on
        probe.release.set()
        assert await ended(reused)
        assert pool.idle == 1
        # Before 6.1, the tasks Django runs the view and the disconnect listener in outlive
        # the cancelled request: end them as a server closing the connection would, then
        # collect the body file they leave behind.
        leftovers = asyncio.all_tasks() - tasks
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        gc.collect()


@needs_executor
@pytest.mark.asyncio
@django_leaks_the_body_of_a_cancelled_request
async def test_a_request_cancelled_before_its_sync_code_ran_retires_its_thread(
    make_app: MakeApp,
) -> None:
    """A request that did not end cleanly retires its thread even when no work of it is left."""
    app = make_app(True)
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT):
        reused = (await get(app, "/sync-view")).thread
        arriving = asyncio.Event()
        request = asyncio.ensure_future(get(app, "/sync-view", body_arriving=arriving))
        await asyncio.wait_for(arriving.wait(), TIMEOUT)  # cancelled while its body arrives
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        del request
        gc.collect()  # Django leaves the body file of a request cancelled there to the GC
        assert pool.idle == 0
        assert await ended(reused)


@needs_executor
@pytest.mark.asyncio
async def test_work_handed_to_the_thread_as_the_request_ends_retires_it(
    make_app: MakeApp, probe: Probe
) -> None:
    """A request that ends cleanly but leaves work queued on its thread does not give it back."""
    app = make_app(True)
    pool = pool_of(app)
    request_finished.connect(
        lambda sender, **kwargs: views.probe.request_finishing(),
        weak=False,
        dispatch_uid="request-threads-late-work",
    )
    try:
        async with drive_lifespan(app, timeout=TIMEOUT):
            key = (await get(app, "/late-work")).thread
            assert pool.idle == 0  # retired: the late work was still queued on it

            await wait_for_event(probe.entered)
            assert probe.blocked_on == key  # the late work runs on the request's thread
            assert (await get(app, "/sync-view")).thread != key
            probe.release.set()
            assert probe.late_task is not None
            assert await asyncio.wait_for(probe.late_task, TIMEOUT) == key
            assert await ended(key)
    finally:
        request_finished.disconnect(dispatch_uid="request-threads-late-work")


# Database connections --------------------------------------------------------------------------


@needs_executor
@pytest.mark.asyncio
async def test_a_reused_thread_keeps_its_persistent_database_connection(
    make_app: MakeApp, thread_db: DbRecorder
) -> None:
    """Requests on a reused thread share its persistent connection instead of opening one each."""
    app = make_app(True)
    async with drive_lifespan(app, timeout=TIMEOUT):
        keys = [(await get(app, "/db")).thread for _ in range(3)]
        assert len(set(keys)) == 1
        assert len(thread_db.on(keys[0])) == 1
        assert thread_db.open_on(keys[0]) == 1
    await assert_closed(thread_db, keys[0])


@needs_executor
@pytest.mark.asyncio
async def test_idle_timeout_closes_the_thread_and_its_database_connection(
    make_app: MakeApp, thread_db: DbRecorder
) -> None:
    """A thread idle for IDLE_TIMEOUT is closed by the pool's timer, its connection first."""
    app = make_app({"IDLE_TIMEOUT": 0.05})
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT):
        key = (await get(app, "/db")).thread
        await wait_until(lambda: pool.idle == 0, "trimmed")
        assert await ended(key)
        assert thread_db.open_on(key) == 0
        assert (await get(app, "/db")).thread != key


@needs_executor
@pytest.mark.asyncio
async def test_max_idle_bounds_the_idle_threads_and_closes_the_others_connections(
    make_app: MakeApp, thread_db: DbRecorder, probe: Probe
) -> None:
    """Of 5 threads released at once with MAX_IDLE 2, 3 are closed (with their connections) once
    they waited ``surplus_grace`` for a request; 2 stay idle with their connections."""
    app = make_app({"MAX_IDLE": 2})
    pool = pool_of(app)
    pool.surplus_grace = 0.05
    async with drive_lifespan(app, timeout=TIMEOUT):
        keys = await on_separate_threads(app, probe, 5)
        assert len(set(keys)) == 5
        assert pool.idle == 5
        await wait_until(lambda: pool.idle == 2, "surplus closed")
        await wait_until(lambda: sum(views.threads[k].is_alive() for k in keys) == 2, "retired")
        assert thread_db.still_open == 2
    await assert_closed(thread_db, *keys)


@needs_executor
@pytest.mark.asyncio
async def test_lifespan_shutdown_closes_the_idle_threads_and_their_connections(
    make_app: MakeApp, thread_db: DbRecorder, probe: Probe
) -> None:
    """Shutdown closes every idle thread with its connection; reuse stops after it."""
    app = make_app(True)
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT) as run:
        keys = await on_separate_threads(app, probe, 3)
        assert pool.idle == 3
        assert thread_db.still_open == 3
    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert pool.idle == 0
    await assert_closed(thread_db, *keys)

    # A request served after the shutdown (a straggler) gets a thread that is not kept.
    key = (await get(app, "/db")).thread
    assert pool.idle == 0
    await assert_closed(thread_db, key)


@needs_executor
@pytest.mark.asyncio
async def test_a_request_in_flight_at_shutdown_gets_its_thread_closed_when_it_ends(
    make_app: MakeApp, thread_db: DbRecorder, probe: Probe
) -> None:
    """The pool cannot close a thread that still serves a request: it does so on release."""
    app = make_app(True)
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT):
        request = asyncio.ensure_future(get(app, "/blocking-db"))
        await wait_for_event(probe.entered)
    assert pool.idle == 0
    assert probe.blocked_on is not None
    assert thread_db.open_on(probe.blocked_on) == 1
    probe.release.set()
    assert (await asyncio.wait_for(request, TIMEOUT)).thread == probe.blocked_on
    assert pool.idle == 0
    await assert_closed(thread_db, probe.blocked_on)


@needs_executor
@pytest.mark.asyncio
async def test_a_failed_lifespan_shutdown_still_closes_the_pool(
    make_app: MakeApp, thread_db: DbRecorder
) -> None:
    """A resource failing to stop does not leave the idle threads and their connections open."""
    app = make_app(True, container="FailingStop")
    pool = pool_of(app)
    async with drive_lifespan(app, timeout=TIMEOUT) as run:
        key = (await get(app, "/db")).thread
    assert run.types == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert pool.idle == 0
    await assert_closed(thread_db, key)


EXIT_SCRIPT = """
import asyncio, atexit, sys, weakref
import django
django.setup()
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import override_settings
from django_lifespan_di.asgi import LifespanASGIHandler
from tests.request_threads_helpers import get
from tests.request_threads_views import DB_ALIAS

opened = []
connection_created.connect(lambda sender, connection, **kw: opened.append(weakref.ref(connection)))
connections.settings[DB_ALIAS] = connections.configure_settings(
    {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1], "CONN_MAX_AGE": None}}
)["default"]
# Registered before the handler's, so it runs after it (atexit runs callbacks last in, first out).
atexit.register(lambda: print("connections left:", sum(ref() is not None for ref in opened)))

with override_settings(
    ROOT_URLCONF="tests.request_threads_views",
    DJANGO_LIFESPAN_DI={
        "CONTAINER": "tests.request_threads_helpers.Empty",
        "REQUEST_THREADS": True,
    },
):
    app = LifespanASGIHandler()
    print("status:", asyncio.run(get(app, "/db")).status, "idle:", app.request_threads.idle)
"""


@needs_executor
def test_a_process_that_exits_without_a_lifespan_shutdown_exits_cleanly(tmp_path: Path) -> None:
    """With no lifespan shutdown, the idle threads' connections go at exit, without an error."""
    env = {
        # Not measured by coverage: its own data file, closed late at exit, would add a
        # ResourceWarning of its own to the stderr this test reads.
        **{k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")},
        "DJANGO_SETTINGS_MODULE": "tests.project.settings",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(tmp_path / "exit.sqlite3")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["status: 200 idle: 1", "connections left: 0"]
    assert "Traceback" not in result.stderr, result.stderr


# The pool, unit by unit ------------------------------------------------------------------------


def test_a_request_thread_runs_its_calls_one_at_a_time_on_one_thread() -> None:
    """A request thread is one thread: concurrent submissions run in order, never at once."""
    thread = RequestThread()
    running = 0
    overlaps = 0
    lock = threading.Lock()

    def call(index: int) -> tuple[int, int]:
        nonlocal running, overlaps
        with lock:
            running += 1
            overlaps += running > 1
        time.sleep(0.001)  # give a second worker, if there were one, a chance to overlap
        with lock:
            running -= 1
        return index, thread_key()

    try:
        results = [f.result(TIMEOUT) for f in [thread.submit(call, i) for i in range(20)]]
    finally:
        thread.close()
    assert [index for index, _ in results] == list(range(20))
    assert len({key for _, key in results}) == 1
    assert overlaps == 0


def test_a_request_thread_is_busy_until_its_work_has_finished() -> None:
    """``busy`` holds from submission until the call has finished (before waiters are told)."""
    thread = RequestThread()
    release = threading.Event()
    told = threading.Event()
    busy_when_told: list[bool] = []
    try:
        states = [thread.busy]
        future = thread.submit(release.wait, TIMEOUT)
        states.append(thread.busy)
        assert states == [False, True]

        def tell(_: Future[Any]) -> None:
            busy_when_told.append(thread.busy)
            told.set()

        future.add_done_callback(tell)  # as asyncio's run_in_executor does, after submit
        release.set()
        assert told.wait(TIMEOUT)
        assert busy_when_told == [False]
        assert not thread.busy
    finally:
        thread.close()


def test_closing_a_request_thread_closes_its_database_connections_on_it(
    thread_db: DbRecorder,
) -> None:
    """``close`` runs ``connections.close_all`` on the thread itself, then lets it end."""
    thread = RequestThread()
    key = thread.submit(open_connection).result(TIMEOUT)
    assert thread_db.open_on(key) == 1
    thread.close()
    views.threads[key].join(TIMEOUT)
    assert not views.threads[key].is_alive()
    assert thread_db.open_on(key) == 0
    with pytest.raises(RuntimeError, match="after shutdown"):
        thread.submit(thread_key)


def test_acquire_gives_the_most_recently_released_idle_thread_or_a_new_one() -> None:
    """Idle threads are reused last in, first out; with none idle, a new one is made."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=60)
    try:
        first, second = pool.acquire(), pool.acquire()
        assert first is not second
        pool.release(first, clean=True)
        pool.release(second, clean=True)
        assert pool.idle == 2
        assert pool.acquire() is second
        assert pool.acquire() is first
        assert pool.idle == 0
        third = pool.acquire()
        assert third not in (first, second)
        for thread in (first, second, third):
            pool.release(thread, clean=True)
    finally:
        pool.close()


def test_released_outside_an_event_loop_the_surplus_is_closed_at_once() -> None:
    """With no loop to wait on, the threads beyond ``max_idle`` are closed on release: the
    longest idle first."""
    pool = RequestThreadPool(max_idle=2, idle_timeout=60)
    threads = [pool.acquire() for _ in range(3)]
    keys = [key_of(thread) for thread in threads]
    for thread in threads:
        pool.release(thread, clean=True)
    try:
        assert pool.idle == 2
        views.threads[keys[0]].join(TIMEOUT)
        assert not views.threads[keys[0]].is_alive()
        assert all(views.threads[key].is_alive() for key in keys[1:])
        assert pool.acquire() is threads[2]
        assert pool.acquire() is threads[1]
    finally:
        pool.close()
    for thread in threads[1:]:
        thread.close()


@pytest.mark.asyncio
async def test_surplus_threads_wait_surplus_grace_for_a_request_then_close() -> None:
    """Beyond ``max_idle``, released threads stay ``surplus_grace``: a request in that time
    reuses one; afterwards the longest idle are closed, down to ``max_idle``."""
    pool = RequestThreadPool(max_idle=1, idle_timeout=60, surplus_grace=0.2)
    threads = [pool.acquire() for _ in range(3)]
    keys = [key_of(thread) for thread in threads]
    try:
        for thread in threads:
            pool.release(thread, clean=True)
        assert pool.idle == 3
        again = pool.acquire()  # a request within the grace: the last released thread
        assert again is threads[2]
        pool.release(again, clean=True)
        await wait_until(lambda: pool.idle == 1, "surplus closed")
        assert await ended(keys[0])
        assert await ended(keys[1])
        assert views.threads[keys[2]].is_alive()
        await asyncio.sleep(0.3)  # longer than the grace: the one within max_idle stays
        assert pool.idle == 1
        assert pool.acquire() is threads[2]
        pool.release(threads[2], clean=True)
    finally:
        pool.close()
    assert await ended(keys[2])


def test_release_retires_a_thread_whose_request_did_not_end_cleanly() -> None:
    """A thread whose request failed or was cancelled is closed, not reused."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=60)
    thread = pool.acquire()
    key = key_of(thread)
    pool.release(thread, clean=False)
    assert pool.idle == 0
    views.threads[key].join(TIMEOUT)
    assert not views.threads[key].is_alive()
    assert pool.acquire() is not thread


def test_release_retires_a_thread_with_unfinished_work(thread_db: DbRecorder) -> None:
    """A thread still running work when released is closed after that work, never reused."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=60)
    thread = pool.acquire()
    key = thread.submit(open_connection).result(TIMEOUT)
    release = threading.Event()
    work = thread.submit(release.wait, TIMEOUT)
    pool.release(thread, clean=True)
    assert pool.idle == 0
    other = pool.acquire()
    assert other is not thread
    assert thread_db.open_on(key) == 1  # the unfinished work still runs: nothing closed under it
    release.set()
    assert work.result(TIMEOUT) is True
    views.threads[key].join(TIMEOUT)
    assert not views.threads[key].is_alive()
    assert thread_db.open_on(key) == 0
    other.close()


def test_trim_closes_only_the_threads_idle_longer_than_idle_timeout(thread_db: DbRecorder) -> None:
    """``trim`` closes the threads idle past ``idle_timeout`` (with their connections)."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=60)
    old, recent = pool.acquire(), pool.acquire()
    old_key = old.submit(open_connection).result(TIMEOUT)
    recent_key = recent.submit(open_connection).result(TIMEOUT)
    pool.release(old, clean=True)
    pool.release(recent, clean=True)
    old.idle_since = time.monotonic() - 61
    try:
        pool.trim()
        assert pool.idle == 1
        views.threads[old_key].join(TIMEOUT)
        assert not views.threads[old_key].is_alive()
        assert thread_db.open_on(old_key) == 0
        assert thread_db.open_on(recent_key) == 1
        assert pool.acquire() is recent
        pool.release(recent, clean=True)
    finally:
        pool.close()
    views.threads[recent_key].join(TIMEOUT)
    assert thread_db.open_on(recent_key) == 0


@pytest.mark.asyncio
async def test_the_trim_timer_closes_each_idle_thread_once_idle_timeout_passed() -> None:
    """Released in a running loop, threads are trimmed by a timer, each when its time comes."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=0.05)
    old, recent = pool.acquire(), pool.acquire()
    old_key, recent_key = key_of(old), key_of(recent)
    pool.release(old, clean=True)
    pool.release(recent, clean=True)
    recent.idle_since += 0.05  # as if released later: a later timer has to close it
    try:
        assert pool.idle == 2
        await wait_until(lambda: pool.idle == 0, "trimmed")
        assert await ended(old_key)
        assert await ended(recent_key)
    finally:
        pool.close()


def test_a_pool_used_from_a_new_event_loop_trims_there() -> None:
    """A timer left on a finished loop does not stop trimming on the next loop (a new test's)."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=60)

    async def release_one() -> int:
        thread = pool.acquire()
        key = key_of(thread)
        pool.release(thread, clean=True)
        return key

    try:
        first = asyncio.run(release_one())  # its timer (60 s) never fires: the loop ends
        pool.idle_timeout = 0.01

        async def release_and_wait() -> int:
            key = await release_one()
            await wait_until(lambda: pool.idle == 0, "trimmed")
            return key

        second = asyncio.run(release_and_wait())
        assert first == second  # the same thread, reused on the second loop, then trimmed
        views.threads[second].join(TIMEOUT)
        assert not views.threads[second].is_alive()
    finally:
        pool.close()


@pytest.mark.parametrize("in_loop", [False, True], ids=["no-loop", "loop"])
def test_close_closes_the_idle_threads_and_those_released_later(in_loop: bool) -> None:
    """``close`` ends the idle threads (and any pending trim); later releases close theirs."""
    pool = RequestThreadPool(max_idle=4, idle_timeout=60)

    def scenario() -> list[int]:
        idle, serving = pool.acquire(), pool.acquire()
        keys = [key_of(idle), key_of(serving)]
        pool.release(idle, clean=True)
        pool.close()
        assert pool.idle == 0
        pool.release(serving, clean=True)
        assert pool.idle == 0
        return keys

    async def in_a_loop() -> list[int]:
        return scenario()

    keys = asyncio.run(in_a_loop()) if in_loop else scenario()
    for key in keys:
        views.threads[key].join(TIMEOUT)
        assert not views.threads[key].is_alive()
    pool.close()  # closing again is harmless


def test_the_exit_hook_closes_every_open_pool() -> None:
    """The interpreter-exit hook closes each pool still open (their idle threads too)."""
    pool = RequestThreadPool(max_idle=2, idle_timeout=60)
    thread = pool.acquire()
    pool.release(thread, clean=True)
    assert pool.idle == 1

    _close_pools_at_exit()

    assert pool.idle == 0
    pool.release(pool.acquire(), clean=True)
    assert pool.idle == 0  # closed: a released thread is not kept
