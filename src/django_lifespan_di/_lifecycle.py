"""Start and stop a container's resources: dependency order, rollback, timeouts, logging.

dependency-injector's ``init_resources()`` starts everything at once and rolls nothing back, and
``shutdown_resources()`` stops at the first error. Here each resource is started as soon as the
resources it depends on are up (independent ones concurrently); a failure stops the ones already
started, dependents first; shutdown stops every resource, logging and skipping past one that
raises or hangs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from dependency_injector import providers

from django_lifespan_di._container import provider_names
from django_lifespan_di.exceptions import ShutdownError, StartupError

__all__ = ["Lifecycle", "LifecycleEvent", "ShutdownError", "StartupError", "report_failure"]

logger = logging.getLogger("django_lifespan_di")


@dataclass(frozen=True)
class LifecycleEvent:
    """One step of a startup or shutdown: what, which resource or hook, how long, any error."""

    action: str
    name: str
    ms: float
    error: str | None = None


@dataclass(eq=False)
class _Node:
    name: str
    provider: providers.BaseResource[Any]
    needs: set[_Node] = field(default_factory=set)


def resource_names(container: Any) -> dict[providers.BaseResource[Any], str]:
    """Map each resource provider of ``container`` (nested containers too) to its dotted name."""
    names: dict[providers.BaseResource[Any], str] = {}
    for name, provider in provider_names(container).items():
        if isinstance(provider, providers.BaseResource):
            names.setdefault(provider, name)
    for provider in container.traverse(types=[providers.BaseResource]):
        names.setdefault(provider, repr(provider))  # declared inline, as another's argument
    return names


def _graph(container: Any) -> list[_Node]:
    nodes = {
        provider: _Node(name, provider) for provider, name in resource_names(container).items()
    }
    for provider, node in nodes.items():
        for needed in provider.traverse(types=[providers.BaseResource]):
            if needed in nodes and needed is not provider:
                node.needs.add(nodes[needed])
    return list(nodes.values())


class Lifecycle:
    """Starts and stops the resources of one container, plus the hooks from settings.

    An async context manager: ``async with lifecycle as started:`` (the resources by name).
    """

    def __init__(
        self,
        container: Any,
        *,
        startup_timeout: float,
        shutdown_timeout: float,
        on_startup: Iterable[Callable[[], object]] = (),
        on_shutdown: Iterable[Callable[[], object]] = (),
    ) -> None:
        self.container = container
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.on_startup = tuple(on_startup)
        self.on_shutdown = tuple(on_shutdown)
        self.events: list[LifecycleEvent] = []
        # The starts this lifecycle cancelled itself: their CancelledError is not a failure.
        self._abandoned: set[_Node] = set()

    async def __aenter__(self) -> dict[str, Any]:
        """``async with lifecycle as started:`` runs :meth:`startup` (rolled back on failure)."""
        return await self.startup()

    async def __aexit__(self, *exc_info: object) -> None:
        """:meth:`shutdown`, however the block ended. Its :class:`ShutdownError` is raised only
        when the block itself raised nothing: the block's own error wins (each failure to stop
        is logged)."""
        try:
            await self.shutdown()
        except ShutdownError:
            if exc_info[1] is None:
                raise

    async def startup(self) -> dict[str, Any]:
        """Start every resource, then run the startup hooks; return the resources by name.

        On failure, stop what was started (dependents first) and raise :class:`StartupError`.
        """
        nodes = _graph(self.container)
        started: dict[_Node, Any] = {}
        try:
            await self._start_all(nodes, started)
            for hook in self.on_startup:
                await self._run_hook(hook, "startup", self.startup_timeout, StartupError)
        except BaseException:
            await self._stop_all(list(started))
            raise
        return {node.name: value for node, value in started.items()}

    async def shutdown(self) -> None:
        """Run the shutdown hooks, then stop every initialised resource, dependents first.

        Each failure is logged and the rest go on; raise :class:`ShutdownError` at the end.
        """
        failed: list[str] = []
        for hook in self.on_shutdown:
            try:
                await self._run_hook(hook, "shutdown", self.shutdown_timeout, Exception)
            except Exception:
                failed.append(_hook_name(hook))
        failed += await self._stop_all(_graph(self.container))
        if failed:
            raise ShutdownError(failed)

    async def _start_all(self, nodes: list[_Node], started: dict[_Node, Any]) -> None:
        waiting = list(nodes)
        running: dict[asyncio.Task[Any], _Node] = {}
        try:
            while waiting or running:
                for node in [n for n in waiting if n.needs <= started.keys()]:
                    waiting.remove(node)
                    running[asyncio.ensure_future(self._start(node))] = node
                if not running:
                    names = ", ".join(node.name for node in waiting)
                    raise StartupError(waiting[0].name, f"dependency cycle among: {names}")
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                failures = []
                for task in done:
                    node = running.pop(task)
                    if task.exception() is None:
                        started[node] = task.result()
                    else:
                        failures.append(task)
                if failures:
                    failures[0].result()  # re-raise the first failure
        finally:
            self._abandoned.update(running.values())
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
            for task, node in running.items():
                if not task.cancelled() and task.exception() is None:
                    started[node] = task.result()

    async def _start(self, node: _Node) -> Any:
        began = time.perf_counter()
        try:
            value = node.provider.init()
            if inspect.isawaitable(value):
                value = await _bounded(value, self.startup_timeout)
        except BaseException as exc:
            took = _ms(began)
            # A half-started resource (a timed-out or cancelled start) must not stay open.
            await self._discard(node)
            if isinstance(exc, _Expired):
                message = (
                    f"resource {node.name!r} did not start within {self.startup_timeout:g} s "
                    "(STARTUP_TIMEOUT)"
                )
            elif isinstance(exc, (KeyboardInterrupt, SystemExit)) or (
                isinstance(exc, asyncio.CancelledError) and node in self._abandoned
            ):
                raise  # the process or the startup is being stopped: not this resource's fault
            else:
                # Any other BaseException too (a CancelledError of the initializer's own, ...):
                # raised out of the lifespan, a server would take it for "lifespan unsupported".
                message = (
                    f"resource {node.name!r} failed to start after {took:.1f} ms: "
                    f"{type(exc).__name__}: {exc}"
                )
            self.events.append(LifecycleEvent("start", node.name, took, message))
            raise StartupError(node.name, message) from exc
        took = _ms(began)
        logger.info("started %s in %.1f ms", node.name, took, extra=_fields(node.name, took))
        self.events.append(LifecycleEvent("start", node.name, took))
        return value

    async def _discard(self, node: _Node) -> None:
        try:
            result = node.provider.shutdown()
            if inspect.isawaitable(result):
                await _bounded(result, self.shutdown_timeout)
        except Exception:
            logger.exception(
                "cleaning up after the failed start of %s failed",
                node.name,
                extra=_fields(node.name),
            )

    async def _stop_all(self, nodes: list[_Node]) -> list[str]:
        """Stop initialised resources, each once every resource that needs it has stopped."""
        members = set(nodes)
        needed_by = {node: {other for other in nodes if node in other.needs} for node in nodes}
        waiting = [node for node in nodes if node.provider.initialized]
        stopped: set[_Node] = {node for node in nodes if node not in waiting}
        failed: list[str] = []
        running: dict[asyncio.Task[bool], _Node] = {}
        while waiting or running:
            for node in [n for n in waiting if needed_by[n] & members <= stopped]:
                waiting.remove(node)
                running[asyncio.ensure_future(self._stop(node))] = node
            if not running:  # pragma: no cover - only a dependency cycle; startup refuses one
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                node = running.pop(task)
                stopped.add(node)
                if not task.result():
                    failed.append(node.name)
        return failed

    async def _stop(self, node: _Node) -> bool:
        began = time.perf_counter()
        try:
            result = node.provider.shutdown()
            if inspect.isawaitable(result):
                await _bounded(result, self.shutdown_timeout)
        except _Expired:
            message = f"did not stop within {self.shutdown_timeout:g} s (SHUTDOWN_TIMEOUT)"
            logger.error(
                "resource %s %s; moving on",
                node.name,
                message,
                extra=_fields(node.name, _ms(began)),
            )
        except Exception as exc:
            message = f"failed to stop: {type(exc).__name__}: {exc}"
            took = _ms(began)
            logger.exception(
                "resource %s failed to stop after %.1f ms",
                node.name,
                took,
                extra=_fields(node.name, took),
            )
        else:
            took = _ms(began)
            logger.info("stopped %s in %.1f ms", node.name, took, extra=_fields(node.name, took))
            self.events.append(LifecycleEvent("stop", node.name, took))
            return True
        self.events.append(LifecycleEvent("stop", node.name, _ms(began), message))
        return False

    async def _run_hook(
        self,
        hook: Callable[[], object],
        phase: str,
        timeout: float,
        error: type[Exception],
    ) -> None:
        name = _hook_name(hook)
        began = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(hook):
                awaitable: Awaitable[object] = hook()
            else:
                awaitable = sync_to_async(hook)()
            await _bounded(awaitable, timeout)
        except _Expired as exc:
            message = f"{phase} hook {name} did not finish within {timeout:g} s"
            logger.error("%s", message, extra=_fields(name, _ms(began)))
            self.events.append(LifecycleEvent(f"{phase} hook", name, _ms(began), message))
            raise (StartupError(name, message) if error is StartupError else exc) from None
        except Exception as exc:
            message = f"{phase} hook {name} failed: {type(exc).__name__}: {exc}"
            logger.exception(
                "%s hook %s failed after %.1f ms",
                phase,
                name,
                _ms(began),
                extra=_fields(name, _ms(began)),
            )
            self.events.append(LifecycleEvent(f"{phase} hook", name, _ms(began), message))
            if error is StartupError:
                raise StartupError(name, message) from exc
            raise
        took = _ms(began)
        logger.info("ran %s hook %s in %.1f ms", phase, name, took, extra=_fields(name, took))
        self.events.append(LifecycleEvent(f"{phase} hook", name, took))


class _Expired(Exception):
    """Our own timeout ran out (distinct from a TimeoutError the resource raised itself)."""


async def _bounded(awaitable: Awaitable[Any], timeout: float) -> Any:
    """Await with a time limit; on expiry cancel it, wait (bounded) for it, raise _Expired."""
    # Not every awaitable is a coroutine or a future (dependency-injector's NullAwaitable).
    task = asyncio.ensure_future(_awaited(awaitable))
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
        try:
            if task.done():
                task.result()
        except BaseException as exc:
            raise _Expired from exc  # its traceback shows where it was stuck
        raise _Expired
    return task.result()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def report_failure(message: str, *, name: str | None = None) -> None:
    """Log an error, and write it to stderr too when logging would swallow it.

    A project ``LOGGING`` with ``disable_existing_loggers`` silences the server's own logger
    and maybe ours; a startup failure must still reach the operator. ``name``: the resource or
    hook that failed, as the record's structured field.
    """
    logger.error("%s", message, extra=_fields(name) if name is not None else None)
    if logger.disabled or not logger.isEnabledFor(logging.ERROR) or not _has_handlers():
        sys.stderr.write(f"django_lifespan_di: {message}\n")
        sys.stderr.flush()


def _has_handlers() -> bool:
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= logging.ERROR for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


def _hook_name(hook: Callable[[], object]) -> str:
    module = getattr(hook, "__module__", None)
    qualname = getattr(hook, "__qualname__", None) or repr(hook)
    return f"{module}.{qualname}" if module else qualname


def _fields(name: str, ms: float | None = None) -> dict[str, object]:
    """The structured fields of a lifecycle log record (JSON log pipelines read these)."""
    fields: dict[str, object] = {"django_lifespan_di_resource": name}
    if ms is not None:
        fields["duration_ms"] = round(ms, 3)
    return fields


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000
