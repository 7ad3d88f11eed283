"""Views (and their URLconf) for the request-thread tests: each reports the threads it ran on.

Threads are named by :func:`thread_key`, a number that no other thread ever gets: OS thread
idents are reused as soon as a thread ends, so they cannot tell a reused thread from a new one.
The tests steer the views through :data:`probe` (reset before each test).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

DB_ALIAS = "request_threads"
"""The database alias the tests add: a sqlite file with persistent connections."""
TIMEOUT = 10.0
"""A bound on every wait in the views, so that a broken test fails instead of hanging."""

_local = threading.local()
_keys = itertools.count(1)
_keys_lock = threading.Lock()
threads: dict[int, threading.Thread] = {}
"""Every thread that got a key, by key (a test joins them to see that they ended)."""


def thread_key() -> int:
    """A number unique to the calling thread for the life of the process."""
    key: int | None = getattr(_local, "key", None)
    if key is None:
        with _keys_lock:
            key = _local.key = next(_keys)
            threads[key] = threading.current_thread()
    return key


class Gate:
    """Holds each request that reaches it until ``size`` have: then all are in flight at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrived = 0
        self._full = asyncio.Event()

    async def arrive(self) -> None:
        self.arrived += 1
        if self.arrived >= self.size:
            self._full.set()
        await asyncio.wait_for(self._full.wait(), TIMEOUT)


class Probe:
    """What the tests set up for, and read back from, the views of one test."""

    def __init__(self) -> None:
        self.gate: Gate | None = None
        self.barrier: threading.Barrier | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.blocked_on: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.finishing: asyncio.Event | None = None
        self.late_pending = False
        self.late_queued = threading.Event()
        self.late_task: asyncio.Task[int] | None = None

    def block(self) -> int:
        """Sync code that runs until the test releases it; returns its thread's key."""
        self.blocked_on = thread_key()
        self.entered.set()
        if not self.release.wait(TIMEOUT):
            raise TimeoutError("the test never released the blocked call")
        return self.blocked_on

    def request_finishing(self) -> None:
        """Called on the request thread by request_finished: wakes the late work.

        It returns once the late work is queued on the thread, so that the request ends with
        that work pending whatever the event loop's scheduling.
        """
        if not self.late_pending:
            return
        self.late_pending = False
        assert self.loop is not None
        assert self.finishing is not None
        self.loop.call_soon_threadsafe(self.finishing.set)
        if not self.late_queued.wait(TIMEOUT):
            raise TimeoutError("the late work was never queued")


probe = Probe()


def reset() -> Probe:
    """A fresh :data:`probe`; a call still blocked on the old one is let go."""
    global probe
    probe.release.set()
    probe = Probe()
    return probe


async def sync_calls(request: HttpRequest) -> HttpResponse:
    """Several thread-sensitive sync calls with awaits between them (the probe's gate too)."""
    keys = [await sync_to_async(thread_key)()]
    for _ in range(int(request.GET.get("calls", "3")) - 1):
        await asyncio.sleep(0)
        if probe.gate is not None:
            await probe.gate.arrive()
        keys.append(await sync_to_async(thread_key)())
    return JsonResponse({"threads": keys})


def sync_view(request: HttpRequest) -> HttpResponse:
    """A sync view: Django runs it thread-sensitively."""
    return JsonResponse({"threads": [thread_key()]})


def db_view(request: HttpRequest) -> HttpResponse:
    """A sync view that runs a query, so its thread holds a (persistent) database connection."""
    with connections[DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return JsonResponse({"threads": [thread_key()], "one": one})


def gated_db_view(request: HttpRequest) -> HttpResponse:
    """:func:`db_view`, held at the probe's barrier until all of its requests are in flight."""
    response = db_view(request)
    assert probe.barrier is not None
    probe.barrier.wait(TIMEOUT)
    return response


def blocking_db_view(request: HttpRequest) -> HttpResponse:
    """:func:`db_view`, then held until the test releases it."""
    db_view(request)
    return JsonResponse({"threads": [probe.block()]})


def blocking_view(request: HttpRequest) -> HttpResponse:
    """A sync view that runs until the test releases it."""
    return JsonResponse({"threads": [probe.block()]})


async def late_work(request: HttpRequest) -> HttpResponse:
    """Leaves a task that hands sync work to the request's thread as the request finishes."""
    current = probe
    current.loop = asyncio.get_running_loop()
    finishing = current.finishing = asyncio.Event()

    async def after_the_response() -> int:
        await asyncio.wait_for(finishing.wait(), TIMEOUT)
        call = sync_to_async(current.block)()
        # Runs after this step of the task, in which awaiting the call queues it on the thread.
        asyncio.get_running_loop().call_soon(current.late_queued.set)
        key: int = await call
        return key

    current.late_task = asyncio.ensure_future(after_the_response())
    current.late_pending = True
    return JsonResponse({"threads": [await sync_to_async(thread_key)()]})


urlpatterns: list[Any] = [
    path("sync-calls", sync_calls),
    path("sync-view", sync_view),
    path("db", db_view),
    path("gated-db", gated_db_view),
    path("blocking-db", blocking_db_view),
    path("block", blocking_view),
    path("late-work", late_work),
]
