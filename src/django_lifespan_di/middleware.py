"""``RequestScopeMiddleware``: one request scope per request, closed when the response is done.

Add it to ``MIDDLEWARE`` (anywhere: it only opens the scope) to use
:class:`~django_lifespan_di.RequestResource` providers in views::

    MIDDLEWARE = [
        "django_lifespan_di.middleware.RequestScopeMiddleware",
        ...
    ]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase

from django_lifespan_di import _request_scope

__all__ = ["RequestScopeMiddleware"]


class RequestScopeMiddleware:
    """Opens a request scope for each request; closes its instances when the response is done.

    Async-only: the request's instances and its async view share one event loop (under WSGI
    Django runs the middleware and the view in one ``async_to_sync`` loop). The instances are
    closed, last created first, when:

    * the view returned a response (after its ``streaming_content`` has been sent, under
      ASGI: when Django calls the response's ``close()``);
    * the view raised, or the request task was cancelled (a client disconnect), with that
      exception passed to each instance's ``__aexit__`` (a transaction rolls back).

    Under WSGI the loop ends with the middleware, so a streaming response's instances are
    closed before its body is sent: its iterator must not use them there.
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        scope, token = _request_scope.enter(request)
        try:
            response = await self.get_response(request)
        except BaseException as exc:
            scope.error = exc
            await _request_scope.finish(scope)
            raise
        finally:
            _request_scope._CURRENT.reset(token)
        if scope.used and response.streaming and isinstance(request, ASGIRequest):
            _close_with(response, scope)
        else:
            await _request_scope.finish(scope)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Remember the view's exception for the clean-up (Django answers it with a 500)."""
        scope = _request_scope.current_scope()
        if scope is not None and scope.request is request:
            scope.error = exception


def _close_with(response: HttpResponseBase, scope: _request_scope.RequestScope) -> None:
    """Close ``scope`` in ``response.close()``, which Django calls after the last chunk (and
    after a client disconnect during the stream)."""
    close = response.close

    def closing(*args: Any, **kwargs: Any) -> None:
        try:
            scope.close_from_sync()
        finally:
            close(*args, **kwargs)

    response.close = closing  # type: ignore[method-assign]
