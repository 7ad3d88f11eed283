"""The process's background event loop: it owns the async resources when no ASGI server does.

Sync callers (management commands, Celery and Django tasks, sync views under WSGI) hand their
coroutines to one long-lived loop, on a daemon thread, whose lifecycle started the container's
resources: every call reuses the same pooled session instead of a new one per
``async_to_sync`` call. The loop is started lazily (or explicitly), stopped with the ordered
shutdown by :func:`stop`, at interpreter exit, or by a worker's shutdown signal. A forked child
never reuses its parent's loop: it starts its own on first use.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django_lifespan_di import _inject
from django_lifespan_di._lifecycle import Lifecycle, ShutdownError
from django_lifespan_di._process import configured_lifecycle
from django_lifespan_di._resource import abandon_loop

__all__ = ["blocking", "inject", "run", "running_lifecycle", "start", "stop"]

logger = logging.getLogger("django_lifespan_di")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DRAIN_TIMEOUT = 10.0
"""Seconds the loop's leftover tasks get to finish before it is stopped."""


@dataclass
class _Running:
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    lifecycle: Lifecycle
    pid: int


_lock = threading.Lock()
_current: _Running | None = None
_exit_registered = False
# What a forked child inherited from its parent's loop: kept, never touched, so that the
# garbage collector does not finalize the parent's objects (their sockets are the parent's).
_inherited: list[object] = []


def _after_fork_in_child() -> None:
    global _current, _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    if _current is not None:
        _inherited.append(_current)
        _inherited.extend(abandon_loop(_current.loop))
        _current = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def _refuse_inside_loop(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"django_lifespan_di.sync.{what}() was called from inside a running event loop, where "
        "it would block that loop (or deadlock, on the background loop itself). In async code, "
        "await the coroutine directly instead."
    )


def running_lifecycle() -> Lifecycle | None:
    """The lifecycle of this process's running background loop, or ``None``."""
    current = _current
    if current is None or current.pid != os.getpid():
        return None
    return current.lifecycle


def start(lifecycle: Lifecycle | None = None) -> bool:
    """Start the background loop and, on it, the resources; ``False`` if it already runs.

    ``lifecycle`` defaults to the configured one. On failure nothing is left running and the
    :class:`~django_lifespan_di.StartupError` naming the resource is raised.
    """
    global _current, _exit_registered
    _refuse_inside_loop("start")
    with _lock:
        if running_lifecycle() is not None:
            return False
        if lifecycle is None:
            lifecycle = configured_lifecycle()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_serve, args=(loop,), name="django_lifespan_di loop", daemon=True
        )
        thread.start()
        future = asyncio.run_coroutine_threadsafe(lifecycle.startup(), loop)
        try:
            future.result()
        except BaseException:
            future.cancel()  # interrupted (Ctrl-C): the startup rolls itself back
            _halt(loop, thread)
            raise
        _current = _Running(loop, thread, lifecycle, os.getpid())
        if not _exit_registered:
            atexit.register(_stop_at_exit)
            _exit_registered = True
        logger.debug("background event loop started (pid %d)", os.getpid())
        return True


def stop() -> None:
    """Stop the resources (ordered shutdown) and the background loop, if it runs.

    Raises :class:`~django_lifespan_di.ShutdownError` naming what failed to stop; the loop is
    stopped all the same.
    """
    global _current
    _refuse_inside_loop("stop")
    with _lock:
        current = _current
        if current is None:
            return
        _current = None
        if current.pid != os.getpid():  # pragma: no cover - the fork hook forgets it first
            return
        try:
            asyncio.run_coroutine_threadsafe(current.lifecycle.shutdown(), current.loop).result()
        finally:
            _halt(current.loop, current.thread)
            logger.debug("background event loop stopped (pid %d)", os.getpid())


def _stop_at_exit() -> None:
    with contextlib.suppress(ShutdownError):  # each failure is already logged
        stop()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the background loop (started if need be) and return its result.

    From a sync caller only: inside a running event loop it is a ``RuntimeError``.
    """
    try:
        _refuse_inside_loop("run")
        current = _current
        if current is None or current.pid != os.getpid():
            start()
            current = _current
        assert current is not None
    except BaseException:
        coroutine.close()  # never awaited now: no "never awaited" warning
        raise
    future = asyncio.run_coroutine_threadsafe(coroutine, current.loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # the caller was interrupted: the coroutine must not run on for nobody
        raise


def blocking(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """A sync function running the coroutine function ``fn`` on the background loop.

    ``fn``'s ``Provide[...]`` markers, if any, are injected there.
    """
    target = _inject.inject(fn) if _inject.find_markers(fn) else fn

    @functools.wraps(target)
    def blocking_call(*args: Any, **kwargs: Any) -> T:
        return run(target(*args, **kwargs))

    # Not a function the checks should read as a sync view asking for async resources.
    blocking_call.__dict__.pop("__django_lifespan_di_markers__", None)
    return blocking_call


def inject(fn: F) -> F:
    """Inject ``fn``'s ``Provide[...]`` markers from the background loop, for sync callers.

    An ``async def`` becomes a sync function that runs on the background loop. A sync function
    stays sync and runs in its caller's thread: it gets the resources the background loop
    started, and uses them through :func:`run` (an aiohttp session's calls are coroutines).
    """
    markers = _inject.find_markers(fn)
    if not markers:
        inner = getattr(fn, "func", None)  # a task object of django.tasks (or django-tasks)
        if callable(inner) and _inject.find_markers(inner):
            raise TypeError(
                "@django_lifespan_di.sync.inject was applied over the task decorator of "
                f"{inner.__qualname__}; put it below (@task above @sync.inject), so that the "
                "task runs the injected function."
            )
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(
            f"{name} has no Provide[...] default to inject; remove "
            "@django_lifespan_di.sync.inject or give a parameter a default such as "
            "Provide[Container.http_session]."
        )
    if inspect.iscoroutinefunction(fn):
        return cast(F, blocking(fn))
    resolve = _resolver(fn, markers)

    @functools.wraps(fn)
    def sync_injecting(*args: Any, **kwargs: Any) -> Any:
        if not markers.keys() <= kwargs.keys():
            kwargs.update(
                run(resolve(**{name: kwargs[name] for name in markers if name in kwargs}))
            )
        return fn(*args, **kwargs)

    # As django_lifespan_di.inject shows it: without the injected parameters.
    _inject._hide_injected(sync_injecting, _inject._scan(fn)[0], markers)
    return cast(F, sync_injecting)


def _resolver(fn: Callable[..., Any], markers: dict[str, Any]) -> Callable[..., Any]:
    """An injected coroutine function returning the values of ``markers`` by name."""

    async def resolve(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    resolve.__qualname__ = fn.__qualname__
    resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=marker)
            for name, marker in markers.items()
        ]
    )
    return _inject.inject(resolve)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _halt(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Let the loop's leftover tasks end (bounded), close its generators, stop and close it."""
    finished = asyncio.run_coroutine_threadsafe(_wind_down(), loop)
    concurrent.futures.wait([finished], timeout=3 * DRAIN_TIMEOUT)
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


async def _wind_down() -> None:
    leftovers = asyncio.all_tasks() - {asyncio.current_task()}
    if leftovers:
        _, late = await asyncio.wait(leftovers, timeout=DRAIN_TIMEOUT)
        for task in late:
            task.cancel()
        with contextlib.suppress(asyncio.TimeoutError):  # one that ignores its cancellation
            await asyncio.wait_for(asyncio.gather(*late, return_exceptions=True), DRAIN_TIMEOUT)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
