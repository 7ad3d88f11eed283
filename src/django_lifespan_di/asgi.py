"""The lifespan-aware ASGI entry point for Django.

``get_asgi_application()`` replaces Django's own; :class:`LifespanMiddleware` adds the same
lifespan handling to any other ASGI app (for example Channels' ``ProtocolTypeRouter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from django_lifespan_di import _readiness
from django_lifespan_di._lifecycle import Lifecycle, StartupError, report_failure
from django_lifespan_di._process import (
    check_configuration,
    configured_lifecycle,
    configured_request_threads,
)
from django_lifespan_di._request_threads import RequestThreadPool
from django_lifespan_di.exceptions import LifespanProtocolError

__all__ = [
    "STATE_KEY",
    "LifespanASGIHandler",
    "LifespanMiddleware",
    "LifespanProtocolError",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "get_asgi_application",
]

logger = logging.getLogger("django_lifespan_di")

Scope = dict[str, Any]
"""An ASGI connection scope."""
Message = Mapping[str, Any]
"""An ASGI event, received or sent."""
Receive = Callable[[], Awaitable[Message]]
"""The ``receive`` callable a server gives the application."""
Send = Callable[[Message], Awaitable[None]]
"""The ``send`` callable a server gives the application."""

STATE_KEY = "django_lifespan_di"
"""The key of the started resources (a dict by provider name) in the lifespan ``state``."""


async def handle_lifespan(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    after_startup: Callable[[], None] = lambda: None,
    after_shutdown: Callable[[], None] = lambda: None,
    on_failure: Callable[[Exception], None] = lambda exc: None,
) -> bool:
    """Speak the ASGI lifespan protocol: start the container's resources, later stop them.

    Returns whether the startup succeeded. A startup or shutdown failure goes to the server as
    text, and to ``on_failure`` as the exception itself (what ``testing.lifespan`` raises).
    Whatever ends the lifespan after a successful startup (``lifespan.shutdown``, a cancelled
    task, ``receive()`` raising, a message out of order), the resources are stopped,
    dependents first.
    """
    message = await receive()
    if _type(message) != "lifespan.startup":
        raise _protocol_error(f"expected lifespan.startup first, received {message!r}")
    _readiness.move_to("starting")
    try:
        lifecycle = configured_lifecycle()
        started = await lifecycle.startup()
    except Exception as exc:
        _readiness.move_to("failed")
        on_failure(exc)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        report_failure(f"lifespan startup failed: {exc}\n{text}", name=getattr(exc, "name", None))
        await _send(send, {"type": "lifespan.startup.failed", "message": f"{exc}\n{text}"})
        return False
    after_startup()
    state = scope.get("state")
    if isinstance(state, dict):
        # Only a copy for the application's use: granian clears state before shutdown, and
        # its presence does not prove that lifespan ran, so nothing here reads it back.
        state[STATE_KEY] = started
    _readiness.move_to("ready")
    async with _serving(lifecycle, send, after_shutdown, on_failure):
        await _send(send, {"type": "lifespan.startup.complete"})
        message = await receive()
        if _type(message) != "lifespan.shutdown":
            raise _protocol_error(
                f"expected lifespan.shutdown after the startup, received {message!r}; "
                "stopping the resources"
            )
    return True


@contextlib.asynccontextmanager
async def _serving(
    lifecycle: Lifecycle,
    send: Send,
    after_shutdown: Callable[[], None],
    on_failure: Callable[[Exception], None],
) -> AsyncIterator[None]:
    """The started lifespan: however the block ends, the ordered shutdown runs after it.

    Reported to the server only when the block ended with ``lifespan.shutdown``; otherwise
    the block's own error goes on once the resources are stopped.
    """
    try:
        yield
    except asyncio.CancelledError:
        # A quick shutdown: uvicorn on a second Ctrl-C, gunicorn's asgi worker on SIGINT.
        logger.warning("the lifespan was cancelled before lifespan.shutdown: stopping anyway")
        await _shutdown(lifecycle, after_shutdown)
        raise
    except BaseException as exc:
        if not isinstance(exc, LifespanProtocolError):  # that one is logged already
            report_failure(f"the lifespan ended before lifespan.shutdown ({exc!r}): stopping")
        await _shutdown(lifecycle, after_shutdown)
        raise
    failure = await _shutdown(lifecycle, after_shutdown)
    if failure is None:
        await _send(send, {"type": "lifespan.shutdown.complete"})
    else:
        on_failure(failure)
        await _send(send, {"type": "lifespan.shutdown.failed", "message": str(failure)})


async def _shutdown(lifecycle: Lifecycle, after_shutdown: Callable[[], None]) -> Exception | None:
    """Stop everything; the failure to report, if any (already logged)."""
    # Not ready from now on, before the first resource stops: the probe must not send traffic
    # to a process whose clients are closing.
    _readiness.move_to("stopping")
    try:
        try:
            await lifecycle.shutdown()
        finally:
            _readiness.move_to("stopped")
            after_shutdown()
    except Exception as exc:
        report_failure(f"lifespan shutdown failed: {exc}")
        return exc
    return None


def _type(message: object) -> object:
    return message.get("type") if isinstance(message, dict) else None


def _protocol_error(text: str) -> LifespanProtocolError:
    error = LifespanProtocolError(f"ASGI lifespan protocol error: {text}")
    report_failure(str(error))
    return error


async def _send(send: Send, message: Message) -> None:
    # Hypercorn raises inside send() of lifespan.*.failed. After a failed startup that error
    # must reach it: it is how Hypercorn learns not to serve. After a failed shutdown the
    # failure is already reported, and a second traceback would only confuse.
    try:
        await send(message)
    except Exception:
        if message["type"] != "lifespan.shutdown.failed":
            raise


class LifespanASGIHandler(ASGIHandler):
    """Django's ``ASGIHandler`` plus the lifespan protocol; every other scope goes to Django.

    With ``DJANGO_LIFESPAN_DI["REQUEST_THREADS"]`` on, each HTTP request runs its
    thread-sensitive sync code on a dedicated thread that later requests reuse (see
    "Reusable request threads" in the docs); off, requests are handled exactly as by Django.
    """

    lifespan_failure: Exception | None = None
    """The exception that failed this app's latest lifespan startup or shutdown, if any."""

    def __init__(self) -> None:
        super().__init__()
        self._checked = False
        self._misconfigured: StartupError | None = None
        self.request_threads: RequestThreadPool | None = configured_request_threads()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.lifespan_failure = None
            await handle_lifespan(
                scope,
                receive,
                send,
                after_startup=self._passed_checks,
                after_shutdown=self._close_request_threads,
                on_failure=self._failed,
            )
        elif not self._checked and not await self._check():
            await self._refuse(scope, send)
        elif scope["type"] == "http" and self.request_threads is not None:
            await self._handle_on_request_thread(self.request_threads, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def _passed_checks(self) -> None:
        self._checked = True

    def _failed(self, exc: Exception) -> None:
        self.lifespan_failure = exc

    def _close_request_threads(self) -> None:
        if self.request_threads is not None:
            self.request_threads.close()

    async def _check(self) -> bool:
        """Without lifespan (daphne, ``--lifespan off``), the first request runs its checks.

        A view of an unwired module would otherwise get the marker object as its session.
        """
        if self._misconfigured is None:
            try:
                await sync_to_async(check_configuration, thread_sensitive=False)()
            except StartupError as exc:
                report_failure(f"refusing to serve: {exc}")
                self._misconfigured = exc
            else:
                self._checked = True
        return self._checked

    async def _refuse(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
            return
        text = "django_lifespan_di: the configuration checks failed; see the server log."
        if settings.DEBUG:
            text += f"\n\n{self._misconfigured}"
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": text.encode()})

    async def _handle_on_request_thread(
        self, pool: RequestThreadPool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        thread = pool.acquire()
        clean = False
        try:
            # What Django's ASGIHandler.__call__ does, with a thread of the pool.
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
            clean = True
        finally:
            pool.release(thread, clean=clean)


class LifespanMiddleware:
    """Add lifespan handling to any ASGI app, such as Channels' ``ProtocolTypeRouter``.

    The :class:`LifespanASGIHandler` instances the app holds get what their own lifespan
    would have given them: after the startup they skip their first-request checks, and at
    shutdown their ``REQUEST_THREADS`` pools are closed. They are found in the app itself,
    in the apps of a router's ``application_mapping`` (``ProtocolTypeRouter``,
    ``ChannelNameRouter``) and in the next app of middleware that keeps it as ``.inner``
    (Channels' middleware) or ``.app`` (this one's).
    """

    lifespan_failure: Exception | None = None
    """The exception that failed this app's latest lifespan startup or shutdown, if any."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.lifespan_failure = None
            handlers = _handlers_in(self.app)

            def after_startup() -> None:
                for handler in handlers:
                    handler._passed_checks()

            def after_shutdown() -> None:
                for handler in handlers:
                    handler._close_request_threads()

            def failed(exc: Exception) -> None:
                self.lifespan_failure = exc

            await handle_lifespan(
                scope,
                receive,
                send,
                after_startup=after_startup,
                after_shutdown=after_shutdown,
                on_failure=failed,
            )
        else:
            await self.app(scope, receive, send)


def _handlers_in(app: Any) -> list[LifespanASGIHandler]:
    """The :class:`LifespanASGIHandler` instances in ``app`` (see :class:`LifespanMiddleware`)."""
    found: list[LifespanASGIHandler] = []
    seen: set[int] = set()
    pending = [app]
    while pending:
        each = pending.pop()
        if id(each) in seen:
            continue
        seen.add(id(each))
        if isinstance(each, LifespanASGIHandler):
            found.append(each)
            continue
        mapping = getattr(each, "application_mapping", None)
        if isinstance(mapping, dict):
            pending += mapping.values()
        for name in ("inner", "app"):
            if getattr(each, name, None) is not None:
                pending.append(getattr(each, name))
    return found


def get_asgi_application() -> LifespanASGIHandler:
    """Set Django up and return the lifespan-aware handler (use in place of Django's)."""
    django.setup(set_prefix=False)
    return LifespanASGIHandler()
