"""Reusable request threads: one dedicated thread per in-flight request, kept for the next one.

Under ASGI, Django runs each request in a new ``ThreadSensitiveContext``, so the first
thread-sensitive ``sync_to_async`` call of every request (the ``request_started`` signal, the
ORM, ``response.close``) starts a new OS thread, joined at the end. That costs time, and every
dead thread leaves its database connection open. This pool hands each request a thread of its
own through asgiref's public ``ThreadSensitiveContext(executor=...)`` and takes it back when
the request ended cleanly with no work of its still running; otherwise the thread is retired.
Threads are closed (database connections first) when idle too long, beyond ``max_idle`` once
they waited ``SURPLUS_GRACE`` seconds for a request, and when the pool closes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import connections

__all__ = ["SURPLUS_GRACE", "RequestThread", "RequestThreadPool"]

T = TypeVar("T")

logger = logging.getLogger("django_lifespan_di")

SURPLUS_GRACE = 1.0
"""Seconds a thread beyond ``max_idle`` waits for a request before it is closed.

The requests in flight swing widely under load (a connection's next request starts while the
previous one still runs ``response.close()``): closing the surplus at once would start those
threads, and open their database connections, again a moment later.
"""


class RequestThread(Executor):
    """One thread that runs one call at a time, and knows whether any of its work is pending."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-request")
        self._pending = 0
        self._lock = threading.Lock()
        self.idle_since = time.monotonic()

    @property
    def busy(self) -> bool:
        """Whether work submitted to this thread has not finished yet."""
        return self._pending > 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            self._pending += 1
        future = self._executor.submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        """Close this thread's database connections on it, then let the thread end."""
        # At interpreter exit concurrent.futures has already stopped its threads (it runs
        # before atexit callbacks) and refuses work: their connections end with the process.
        with contextlib.suppress(RuntimeError):
            self._executor.submit(connections.close_all)
        self._executor.shutdown(wait=False)


class RequestThreadPool:
    """Idle request threads, reused by later requests, at most ``max_idle`` of them."""

    _open: weakref.WeakSet[RequestThreadPool] = weakref.WeakSet()

    def __init__(
        self, *, max_idle: int, idle_timeout: float, surplus_grace: float = SURPLUS_GRACE
    ) -> None:
        RequestThreadPool._open.add(self)
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.surplus_grace = surplus_grace
        self._idle: list[RequestThread] = []
        self._closed = False
        self._trim_handle: asyncio.TimerHandle | None = None
        self._trim_loop: asyncio.AbstractEventLoop | None = None
        self._trim_due = 0.0

    @property
    def idle(self) -> int:
        """How many threads wait for a request."""
        return len(self._idle)

    def acquire(self) -> RequestThread:
        """A thread for a new request: the most recently used idle one, or a new one."""
        if self._idle:
            return self._idle.pop()
        return RequestThread()

    def release(self, thread: RequestThread, *, clean: bool) -> None:
        """Take a thread back after its request; retire it unless it can safely serve again."""
        if self._closed or not clean or thread.busy:
            thread.close()
            return
        thread.idle_since = time.monotonic()
        self._idle.append(thread)
        self._schedule_trim()

    def trim(self) -> None:
        """Close the threads idle for ``idle_timeout``, and those beyond ``max_idle`` idle for
        ``surplus_grace``: the longest idle first."""
        self._trim_handle = None
        now = time.monotonic()
        idle = self._idle  # in release order: the longest idle first
        cut = 0
        while cut < len(idle) and now - idle[cut].idle_since >= self.idle_timeout:
            cut += 1
        while len(idle) - cut > self.max_idle and now - idle[cut].idle_since >= self.surplus_grace:
            cut += 1
        self._retire(cut)
        self._schedule_trim()

    def close(self) -> None:
        """Close every idle thread; threads still serving a request are closed on release.

        Closing a closed pool does nothing.
        """
        if self._closed:
            return
        self._closed = True
        logger.debug("closed the request threads (%d idle)", len(self._idle))
        if self._trim_handle is not None:
            self._trim_handle.cancel()
            self._trim_handle = None
        self._retire(len(self._idle))

    def _retire(self, count: int) -> None:
        """Close the ``count`` longest idle threads."""
        retired, self._idle = self._idle[:count], self._idle[count:]
        for thread in retired:
            thread.close()

    def _schedule_trim(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to keep a timer on: keep no surplus either
            self._retire(max(0, len(self._idle) - self.max_idle))
            return
        if not self._idle:
            return
        wait = self.idle_timeout
        if len(self._idle) > self.max_idle:
            wait = min(wait, self.surplus_grace)
        due = self._idle[0].idle_since + wait
        if self._trim_handle is not None:
            if self._trim_loop is loop and self._trim_due <= due:
                return
            self._trim_handle.cancel()  # too late, or a timer of another (finished) loop
        self._trim_handle = loop.call_later(max(0.0, due - time.monotonic()), self.trim)
        self._trim_loop = loop
        self._trim_due = due


@atexit.register
def _close_pools_at_exit() -> None:
    for pool in list(RequestThreadPool._open):
        pool.close()
