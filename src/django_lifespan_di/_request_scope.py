"""Request-scoped providers: one instance per request, closed when the response is finished.

A :class:`RequestScope` holds the instances of one request and their clean-up; the scope being
served is in a context variable, which asyncio tasks and asgiref's ``sync_to_async`` and
``async_to_sync`` carry along, so every part of the request (the view, a task it starts, the
streaming iterator) finds the same scope. ``RequestScopeMiddleware``
(:mod:`django_lifespan_di.middleware`) opens one per request; :func:`request_scope` opens one
explicitly (a command, a worker, a test).

A scope costs one small object per request until something asks for a request-scoped
provider: the dictionary of instances and the clean-up list are made on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from dependency_injector import providers
from django.http import HttpRequest

from django_lifespan_di._resource import require_async
from django_lifespan_di.exceptions import RequestScopeError

__all__ = [
    "CurrentRequest",
    "RequestResource",
    "RequestScope",
    "RequestScopeError",
    "current_scope",
    "enter",
    "finish",
    "request_scope",
]

logger = logging.getLogger("django_lifespan_di")

T = TypeVar("T")

_Exit = Callable[[Any, Any, Any], Awaitable[Any]]

_CURRENT: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar(
    "django_lifespan_di_request_scope", default=None
)

_HOW_TO_OPEN = (
    "add 'django_lifespan_di.middleware.RequestScopeMiddleware' to MIDDLEWARE, or, outside a "
    "request (a management command, a worker, a test), run the code inside "
    "`async with django_lifespan_di.request_scope():`"
)

# Clean-ups running as tasks of their own (shielded from the request's cancellation): kept
# here so that the loop, which holds tasks weakly, cannot lose one half-way.
_closing: set[asyncio.Task[None]] = set()


class RequestScope:
    """The request-scoped instances of one request (or one ``request_scope()`` block)."""

    __slots__ = ("_closed", "_created", "_exits", "error", "loop", "request")

    def __init__(self, request: HttpRequest | None) -> None:
        self.request = request
        self.error: BaseException | None = None
        """The exception the request ended with, passed to each instance's ``__aexit__``."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._created: dict[RequestResource[Any], asyncio.Task[Any]] | None = None
        self._exits: list[tuple[str, _Exit]] = []
        self._closed = False

    @property
    def used(self) -> bool:
        """Whether any request-scoped provider was asked for in this scope."""
        return self._created is not None

    async def get(self, resource: RequestResource[T], build: Callable[[], Any]) -> T:
        """The scope's instance of ``resource``, created by ``build`` on first use."""
        if self._closed:
            raise RequestScopeError(
                f"{resource.label} is request-scoped, and its request has ended (the response "
                "is finished): a task that outlives the request cannot use it. Pass what it "
                "needs from the request, or use a process resource (LifespanResource)."
            )
        created = self._created
        if created is None:
            created = self._created = {}
        task = created.get(resource)
        if task is None:
            loop = asyncio.get_running_loop()
            if self.loop is None:
                self.loop = loop
            # A task of its own, shielded below: concurrent first uses wait for one creation,
            # and a caller that is cancelled does not cancel it for the others.
            task = loop.create_task(self._create(resource, build))
            created[resource] = task
            task.add_done_callback(functools.partial(self._created_one, resource))
        elif task.done():
            return task.result()  # type: ignore[no-any-return]
        return await asyncio.shield(task)

    def _created_one(self, resource: RequestResource[Any], task: asyncio.Task[Any]) -> None:
        failed = task.cancelled() or task.exception() is not None
        # Forget a failed creation: the next use in this request tries again.
        if failed and self._created is not None and self._created.get(resource) is task:
            del self._created[resource]

    async def _create(self, resource: RequestResource[T], build: Callable[[], Any]) -> T:
        started = time.perf_counter()
        obj = build()
        while inspect.isawaitable(obj):  # a coroutine function, or dependencies to await
            obj = await obj
        exit_: _Exit | None = None
        if inspect.isasyncgen(obj):
            manager = contextlib.asynccontextmanager(lambda: obj)()
            obj, exit_ = await manager.__aenter__(), manager.__aexit__
        elif hasattr(obj, "__aenter__") and hasattr(obj, "__aexit__"):
            exit_ = obj.__aexit__
            obj = await obj.__aenter__()
        elif hasattr(obj, "__enter__") and hasattr(obj, "__exit__"):
            raise TypeError(
                f"{resource.label} produced a sync context manager ({obj!r}); RequestResource "
                "needs an async generator, a coroutine or an async context manager."
            )
        if exit_ is not None:
            self._exits.append((resource.label, exit_))
        logger.debug(
            "created request-scoped %s in %.1f ms",
            resource.label,
            (time.perf_counter() - started) * 1000,
            extra={"resource": resource.label},
        )
        return obj  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Close every instance, the last created first; log (and skip) a clean-up that fails.

        Nothing can be created from now on. Creations still under way (a request cancelled
        while one was starting) are cancelled first.
        """
        if self._closed:
            return
        self._closed = True
        pending = [task for task in (self._created or {}).values() if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        error = self.error
        exc_info = (
            (None, None, None) if error is None else (type(error), error, error.__traceback__)
        )
        while self._exits:
            label, exit_ = self._exits.pop()
            try:
                await exit_(*exc_info)
            except Exception:
                # Logged, never raised: the response (or the request's own error) goes on.
                logger.exception(
                    "closing the request-scoped %s failed", label, extra={"resource": label}
                )

    def close_soon(self) -> asyncio.Task[None] | None:
        """Start :meth:`close` as a task the request's cancellation cannot interrupt.

        ``None`` when the scope was never used: an unused scope has nothing to close.
        """
        if self._closed or not self.used:
            self._closed = True
            return None
        task = asyncio.get_running_loop().create_task(self.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        return task

    def close_from_sync(self) -> None:
        """Close the scope from sync code (``response.close()``), on the loop that owns it.

        From another thread it waits until the instances are closed. Called on the owning
        loop itself (the async test client calls ``close()`` there), it cannot wait: the
        clean-up is scheduled to run right after.
        """
        loop = self.loop
        if not self.used or self._closed or loop is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.close_soon()
        elif loop.is_closed() or not loop.is_running():
            logger.warning(
                "could not close the request-scoped %s: the event loop that created them has "
                "stopped",
                ", ".join(label for label, _ in self._exits) or "instances",
            )
            self._closed = True
        else:
            asyncio.run_coroutine_threadsafe(self.close(), loop).result()


def current_scope() -> RequestScope | None:
    """The request scope active here, if any."""
    return _CURRENT.get()


def enter(request: HttpRequest | None) -> tuple[RequestScope, contextvars.Token[Any]]:
    """Make a new scope the current one; reset the token to leave it (it stays open)."""
    scope = RequestScope(request)
    return scope, _CURRENT.set(scope)


@contextlib.asynccontextmanager
async def request_scope(request: HttpRequest | None = None) -> AsyncIterator[None]:
    """Run the block in a request scope of its own; close its instances when it ends.

    For code outside a request that uses request-scoped providers: a management command, a
    worker, a test. ``request`` is what :class:`CurrentRequest` provides inside (none by
    default). A scope opened inside another is independent of it: it has its own instances.
    """
    scope, token = enter(request)
    try:
        yield
    except BaseException as exc:
        scope.error = exc
        raise
    finally:
        _CURRENT.reset(token)
        await finish(scope)


async def finish(scope: RequestScope) -> None:
    """Close ``scope`` (at once when unused), to the end even if the caller is cancelled."""
    task = scope.close_soon()
    if task is not None:
        await task


class RequestResource(providers.Factory[T]):
    """A provider with one instance per request, closed when the response is finished.

    Declare it like a ``LifespanResource``, with an async generator function (the code after
    ``yield`` is the clean-up), a coroutine function or an async context manager factory; its
    arguments can be other providers, process resources and :class:`CurrentRequest`::

        user_session = RequestResource(request_session, http_session)

    The instance is created on the first use in a request (concurrent first uses create one),
    and closed, last created first, after the response's last byte, a client disconnect or an
    error. Outside a request scope, using it raises :class:`RequestScopeError`.
    """

    def __init__(self, provides: Any = None, *args: Any, **kwargs: Any) -> None:
        if provides is not None:
            require_async(provides, "RequestResource", "or an async context manager factory", "")
        super().__init__(provides, *args, **kwargs)
        self.name: str | None = None
        """The provider's name in the process's container (set when the container is built)."""

    @property
    def label(self) -> str:
        """How messages name this provider: its name in the container, else its repr."""
        return repr(self.name) if self.name is not None else repr(self)

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        scope = _CURRENT.get()
        if scope is None:
            raise RequestScopeError(
                f"{self.label} is request-scoped, and no request scope is active here: "
                f"{_HOW_TO_OPEN}."
            )
        # Factory._provide (Cython, absent from the stubs) builds the object with the
        # dependencies resolved, as for any Factory.
        build = super()._provide  # type: ignore[misc]
        return scope.get(self, functools.partial(build, args, kwargs))


class CurrentRequest(providers.Provider[HttpRequest]):
    """Provides the ``HttpRequest`` being served, to request-scoped providers and views.

    Inside ``request_scope()`` without a request, and outside any scope, it raises
    :class:`RequestScopeError`.
    """

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> HttpRequest:
        scope = _CURRENT.get()
        if scope is None or scope.request is None:
            raise RequestScopeError(
                "CurrentRequest provides the request being served, and none is: "
                + (_HOW_TO_OPEN if scope is None else "pass it, as request_scope(request)")
                + "."
            )
        return scope.request
