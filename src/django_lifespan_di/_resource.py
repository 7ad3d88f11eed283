"""``LifespanResource``: an async resource that knows which event loop owns it.

A stock ``providers.Resource`` keeps one instance, bound to whichever loop created it, shares one
init task among all waiters (so one cancelled waiter cancels the init for everyone) and hands out
a future on every call (so each injection costs a Task). This provider keeps one instance per
running event loop instead:

* the instance started by the lifespan startup serves every request on the server's loop, and
  an injection of it is a dictionary lookup, with no Task;
* without lifespan (daphne, ``runserver``, Django's test clients), the first use on a loop
  creates the instance once, whatever the number of concurrent first callers, and a caller that
  is cancelled does not cancel the creation for the others;
* each instance lives in an async generator registered with its loop, so the loop's own
  ``shutdown_asyncgens()`` (run by ``asyncio.run`` and asgiref) closes it with the loop; a loop
  closed without that (a plain ``loop.close()``) closes its instances first; what a loop that is
  never closed leaves open is closed at interpreter exit;
* the initializer's own async generators (the user's ``yield``, a nested
  ``asynccontextmanager``) are driven by the resource, not by the loop: their clean-up runs to
  the end even when written without ``try``/``finally``, and in dependency order.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import inspect
import logging
import sys
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

from dependency_injector import errors, providers, resources

from django_lifespan_di.exceptions import AsyncResourceRequiredError

__all__ = [
    "AsyncResourceRequiredError",
    "LifespanResource",
    "abandon_loop",
    "pin_async_dependents",
]

logger = logging.getLogger("django_lifespan_di")

T = TypeVar("T")

_all_resources: weakref.WeakSet[LifespanResource[Any]] = weakref.WeakSet()


class _LoopState:
    """One instance of a resource, owned by one event loop."""

    __slots__ = ("generator", "ready", "task", "value")

    def __init__(self) -> None:
        self.ready = False
        self.value: Any = None
        self.task: asyncio.Task[Any] | None = None
        self.generator: AsyncGenerator[Any, None] | None = None


class LifespanResource(providers.Resource[T]):
    """An async ``Resource`` with one instance per event loop, created once, closed with its loop.

    Use it like ``providers.Resource`` with an async generator function, a coroutine function,
    an async context manager factory or a ``resources.AsyncResource`` subclass::

        http_session = LifespanResource(client_session, base_url="https://api.example.com")
    """

    def __init__(self, provides: Any = None, *args: Any, **kwargs: Any) -> None:
        if provides is not None:
            require_async(provides)
        super().__init__(provides, *args, **kwargs)
        # The provider decides on its own whether a call returns a value or an awaitable;
        # pinning the mode stops dependency-injector from flipping it (for example when an
        # override returns a plain object) and from wrapping ready values in futures.
        self.disable_async_mode()
        self._states: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        # (loop, instance) of the latest ready instance while no override is active: what
        # django_lifespan_di.inject reads on its fast path. Cleared on any change.
        self.ready_instance: tuple[asyncio.AbstractEventLoop, Any] | None = None
        self.name: str | None = None
        """The provider's name in the process's container (set when the container is built)."""
        _all_resources.add(self)

    @property
    def label(self) -> str:
        """How messages name this resource: its provider name, else its repr."""
        return repr(self.name) if self.name is not None else repr(self)

    @property
    def provided(self) -> providers.ProvidedInstance:
        """As ``Resource.provided``, always awaitable: what it gives depends on the loop."""
        provided = super().provided
        provided.enable_async_mode()
        return provided

    def __deepcopy__(self, memo: dict[Any, Any] | None = None) -> LifespanResource[T]:
        if self._states:
            raise errors.Error(f"Can not copy initialized resource {self!r}")
        return super().__deepcopy__(memo)  # type: ignore[return-value]

    @property
    def initialized(self) -> bool:
        """Whether the current event loop (or, outside any loop, some loop) holds an instance."""
        loop = _running_loop()
        if loop is None:
            return any(state.ready for state in self._states.values())
        state = self._states.get(loop)
        return state is not None and state.ready

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        loop = _running_loop()
        if loop is None:
            raise AsyncResourceRequiredError(
                f"{self.label} is an async resource and no event loop is running here, so it "
                "cannot be provided. Declare the view (or the code asking for it) "
                "`async def`, or use a sync providers.Resource for sync code."
            )
        state = self._states.get(loop)
        if state is not None and state.ready:
            # (dependency-injector calls _provide only while no override is active)
            self.ready_instance = (loop, state.value)
            return state.value
        return self._acquire(loop)

    def override(self, provider: Any) -> Any:
        self.ready_instance = None
        return super().override(provider)

    def reset_last_overriding(self) -> None:
        self.ready_instance = None
        super().reset_last_overriding()

    def reset_override(self) -> None:
        self.ready_instance = None
        super().reset_override()

    def init(self) -> Awaitable[T]:
        """Start the instance for the running loop (if not started) and return it."""
        if self.last_overriding is not None:
            # As providers.Resource.init(): an overridden resource is not started; what the
            # override provides is what the container provides (and what lifespan reports).
            return _provided(self.__call__())
        loop = _running_loop()
        if loop is None:
            raise AsyncResourceRequiredError(
                f"{self.label} is an async resource: await its init() inside a running event loop."
            )
        return self._acquire(loop)

    def shutdown(self) -> Awaitable[None]:
        """Close the instance owned by the running loop, if any."""
        loop = _running_loop()
        if loop is None:
            raise AsyncResourceRequiredError(
                f"{self.label} is an async resource: await its shutdown() inside the event loop "
                "that started it."
            )
        return self._close(loop)

    async def _acquire(self, loop: asyncio.AbstractEventLoop) -> T:
        state = self._states.get(loop)
        if state is None:
            state = _LoopState()
            self._states[loop] = state
            _closer_of(loop).add(self)
            state.task = loop.create_task(self._open(loop, state))
            state.task.add_done_callback(lambda task: self._opened(loop, state, task))
        if state.ready:
            return state.value  # type: ignore[no-any-return]
        assert state.task is not None
        # Shielded: a caller that goes away (a client disconnect) must not cancel the start
        # that every other caller on this loop is waiting for.
        return await asyncio.shield(state.task)

    async def _open(self, loop: asyncio.AbstractEventLoop, state: _LoopState) -> T:
        started = time.perf_counter()
        generator = self._lifetime(loop, state)
        # The first step registers the generator with the running loop's asyncgen hooks, so
        # loop.shutdown_asyncgens() closes the instance before the loop is closed.
        value: T = await generator.__anext__()
        state.generator = generator
        state.value = value
        state.ready = True
        if self.last_overriding is None:
            self.ready_instance = (loop, value)
        logger.debug(
            "created %s for event loop %s in %.1f ms",
            self.label,
            _loop_text(loop),
            (time.perf_counter() - started) * 1000,
        )
        return value

    def _opened(
        self, loop: asyncio.AbstractEventLoop, state: _LoopState, task: asyncio.Task[Any]
    ) -> None:
        if task.cancelled() or task.exception() is not None:
            # Forget a failed start, so the next caller tries again.
            self._forget(loop, state)

    def _forget(self, loop: asyncio.AbstractEventLoop, state: _LoopState) -> None:
        if self._states.get(loop) is state:
            del self._states[loop]
        if self.ready_instance is not None and self.ready_instance[0] is loop:
            self.ready_instance = None

    async def _lifetime(
        self, loop: asyncio.AbstractEventLoop, state: _LoopState
    ) -> AsyncGenerator[T, None]:
        exit_: Callable[..., Awaitable[Any]] | None = None
        owned = _own_async_generators()
        try:
            factory: Any = self.provides
            obj = factory(
                *[await _resolve(arg) for arg in self.args],
                **{name: await _resolve(value) for name, value in self.kwargs.items()},
            )
            if inspect.isawaitable(obj):
                obj = await obj
            if hasattr(obj, "__aenter__") and hasattr(obj, "__aexit__"):
                exit_ = obj.__aexit__
                obj = await obj.__aenter__()
            elif hasattr(obj, "__enter__") and hasattr(obj, "__exit__"):
                raise TypeError(
                    f"{self.label} produced a sync context manager ({obj!r}); LifespanResource "
                    "needs an async one. Use providers.Resource for sync resources."
                )
        except BaseException:
            self._forget(loop, state)
            raise
        finally:
            _OWNING.reset(owned)
        try:
            yield obj
        finally:
            self._forget(loop, state)
            if exit_ is not None:
                owned = _own_async_generators()
                try:
                    await exit_(None, None, None)
                finally:
                    _OWNING.reset(owned)

    async def _close(self, loop: asyncio.AbstractEventLoop) -> None:
        state = self._states.get(loop)
        if state is None:
            return
        if not state.ready:
            assert state.task is not None
            state.task.cancel()
            try:
                await state.task
            except asyncio.CancelledError:
                if not state.task.cancelled():
                    raise  # the caller of shutdown() was cancelled, not the start
                return
        assert state.generator is not None
        await state.generator.aclose()

    def _close_leftovers(self) -> None:
        """At interpreter exit, close instances whose loop is still open but stopped."""
        for loop, state in list(self._states.items()):
            if not state.ready or state.generator is None:
                continue
            if loop.is_closed() or loop.is_running():
                logger.warning(
                    "could not close %s at exit: its event loop is %s",
                    self.label,
                    "closed" if loop.is_closed() else "still running",
                )
                continue
            self._close_on_stopped_loop(loop, "at exit")

    def _close_on_stopped_loop(self, loop: asyncio.AbstractEventLoop, when: str) -> None:
        try:
            loop.run_until_complete(self._close(loop))
        except Exception:
            logger.exception("closing %s %s failed", self.label, when)


async def _provided(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _resolve(value: Any) -> Any:
    if providers.is_provider(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def require_async(
    provides: Any,
    owner: str = "LifespanResource",
    accepted: str = "an async context manager or a resources.AsyncResource",
    advice: str = " Use providers.Resource for sync resources.",
) -> None:
    """Refuse a sync initializer for ``owner``, saying what it accepts."""
    sync = inspect.isgeneratorfunction(provides) or (
        isinstance(provides, type) and issubclass(provides, resources.Resource)
    )
    if sync:
        raise TypeError(
            f"{owner} needs an async initializer (an async generator function, a coroutine "
            f"function, {accepted}), got the sync {provides!r}.{advice}"
        )


def pin_async_dependents(container: Any) -> None:
    """Make every provider of ``container`` built from a ``LifespanResource`` always async.

    dependency-injector fixes a provider's sync or async mode on its first call: a Factory
    first called where the resource was ready would later pass a raw coroutine on to the
    object it builds, on a loop where the resource is not ready yet.
    """
    for provider in container.traverse():
        if isinstance(provider, LifespanResource):
            continue
        if any(isinstance(each, LifespanResource) for each in provider.traverse()):
            provider.enable_async_mode()


def abandon_loop(loop: asyncio.AbstractEventLoop) -> list[object]:
    """Forget, without closing, every instance ``loop`` owns; return what was forgotten.

    For a forked child: the parent's loop does not run here and its connections are the
    parent's. The caller keeps what is returned, so that no finalizer ever runs on it.
    """
    forgotten: list[object] = []
    for resource in list(_all_resources):
        state = resource._states.pop(loop, None)
        if state is not None:
            forgotten.append(state)
        if resource.ready_instance is not None and resource.ready_instance[0] is loop:
            resource.ready_instance = None
    return forgotten


# While set, async generators first iterated in this context belong to a resource's lifetime,
# which closes them itself: the loop's shutdown_asyncgens() must not close them out of order.
_OWNING: contextvars.ContextVar[bool] = contextvars.ContextVar("django_lifespan_di_owning")


class _FirstIterHook:
    """The thread's asyncgen ``firstiter`` hook, passing over the generators a resource owns."""

    __slots__ = ("previous",)

    def __init__(self, previous: Callable[[Any], object] | None) -> None:
        self.previous = previous

    def __call__(self, generator: Any) -> None:
        if not _OWNING.get(False) and self.previous is not None:
            self.previous(generator)


def _own_async_generators() -> contextvars.Token[bool]:
    """Until the token is reset, async generators first iterated here are not the loop's."""
    firstiter, finalizer = sys.get_asyncgen_hooks()
    if not isinstance(firstiter, _FirstIterHook):
        # The loop installed its hooks when it started running, and puts the ones from before
        # back when it stops: this wrapper lasts as long as this run of the loop.
        sys.set_asyncgen_hooks(_FirstIterHook(firstiter), finalizer)
    return _OWNING.set(True)


class _LoopCloser:
    """Stands in for ``loop.close`` of a loop that has instances: closes them first.

    Hand-written workers and commands often end a loop with a plain ``loop.close()``, without
    ``shutdown_asyncgens()``: the instances would stay open, one session per loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, close: Callable[[], None]) -> None:
        self.loop = loop
        self.close = close
        self.resources: list[weakref.ref[LifespanResource[Any]]] = []

    def add(self, resource: LifespanResource[Any]) -> None:
        self.resources.append(weakref.ref(resource))

    def __call__(self) -> None:
        loop = self.loop
        if not loop.is_running() and not loop.is_closed():
            # Dependents were created after what they depend on: close them first.
            for reference in reversed(self.resources):
                resource = reference()
                if resource is not None and loop in resource._states:
                    resource._close_on_stopped_loop(loop, "as its event loop closed")
            self.resources.clear()
        self.close()


def _closer_of(loop: asyncio.AbstractEventLoop) -> _LoopCloser:
    closer = loop.__dict__.get("close") if hasattr(loop, "__dict__") else None
    if isinstance(closer, _LoopCloser):
        return closer
    closer = _LoopCloser(loop, loop.close)
    # A loop type without instance attributes (uvloop) is not watched: closed at exit, if it
    # can be.
    with contextlib.suppress(AttributeError):
        loop.close = closer  # type: ignore[method-assign]
    return closer


def _loop_text(loop: asyncio.AbstractEventLoop) -> str:
    return f"{type(loop).__name__} 0x{id(loop):x} (thread {threading.current_thread().name})"


@atexit.register
def _close_all_at_exit() -> None:
    for resource in list(_all_resources):
        resource._close_leftovers()
