"""The lifespan-aware ASGI entry point for Django.

``get_asgi_application()`` replaces Django's own; :class:`LifespanMiddleware` adds the same
lifespan handling to any other ASGI app (for example Channels' ``ProtocolTypeRouter``).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler

from django_lifespan_di import _container
from django_lifespan_di._lifecycle import Lifecycle, report_failure
from django_lifespan_di._request_threads import RequestThreadPool
from django_lifespan_di.checks import configured_lifecycle

__all__ = ["STATE_KEY", "LifespanASGIHandler", "LifespanMiddleware", "get_asgi_application"]

Scope = dict[str, Any]
Message = dict[str, Any]

STATE_KEY = "django_lifespan_di"
"""The key of the started resources (a dict by provider name) in the lifespan ``state``."""


async def handle_lifespan(
    scope: Scope, receive: Any, send: Any, *, after_shutdown: Callable[[], None] | None = None
) -> None:
    """Speak the ASGI lifespan protocol: start the container's resources, later stop them."""
    message = await receive()
    if message["type"] != "lifespan.startup":  # pragma: no cover - a broken server
        return
    lifecycle: Lifecycle | None = None
    try:
        lifecycle = configured_lifecycle()
        started = await lifecycle.startup()
    except Exception as exc:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        report_failure(f"lifespan startup failed: {exc}\n{text}")
        await _send(send, {"type": "lifespan.startup.failed", "message": f"{exc}\n{text}"})
        return
    state = scope.get("state")
    if isinstance(state, dict):
        # Only a copy for the application's use: granian clears state before shutdown, and
        # its presence does not prove that lifespan ran, so nothing here reads it back.
        state[STATE_KEY] = started
    await _send(send, {"type": "lifespan.startup.complete"})

    message = await receive()
    if message["type"] != "lifespan.shutdown":  # pragma: no cover - a broken server
        return
    try:
        try:
            await lifecycle.shutdown()
        finally:
            if after_shutdown is not None:
                after_shutdown()
    except Exception as exc:
        report_failure(f"lifespan shutdown failed: {exc}")
        await _send(send, {"type": "lifespan.shutdown.failed", "message": str(exc)})
        return
    await _send(send, {"type": "lifespan.shutdown.complete"})


async def _send(send: Any, message: Message) -> None:
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

    def __init__(self) -> None:
        super().__init__()
        self.request_threads: RequestThreadPool | None = None
        try:
            options = _container.get_lifespan_settings().request_threads
        except ImproperlyConfigured:
            options = None  # reported by the checks, which fail the lifespan startup
        if options is not None:
            self.request_threads = RequestThreadPool(
                max_idle=options.max_idle, idle_timeout=options.idle_timeout
            )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            pool = self.request_threads
            await handle_lifespan(
                scope, receive, send, after_shutdown=pool.close if pool is not None else None
            )
        elif scope["type"] == "http" and self.request_threads is not None:
            await self._handle_on_request_thread(self.request_threads, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _handle_on_request_thread(
        self, pool: RequestThreadPool, scope: Scope, receive: Any, send: Any
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
    """Add lifespan handling to any ASGI app, such as Channels' ``ProtocolTypeRouter``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await handle_lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def get_asgi_application() -> LifespanASGIHandler:
    """Set Django up and return the lifespan-aware handler (use in place of Django's)."""
    django.setup(set_prefix=False)
    return LifespanASGIHandler()
