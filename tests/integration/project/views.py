"""Views the demo does not have: per-user requests through the shared session, and which
thread ran a sync view."""

from __future__ import annotations

import os
import threading

from aiohttp import ClientSession
from demo.containers import Container
from demo.views import UpstreamError
from dependency_injector.wiring import Provide
from django.http import HttpRequest, JsonResponse

from django_lifespan_di import inject


@inject
async def whoami(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> JsonResponse:
    """``/integration/whoami?user=alice``: call the upstream as that user (``X-User``), or as
    nobody without ``user``; answer what the upstream saw, and which session and process
    carried the call."""
    user = request.GET.get("user", "")
    try:
        async with session.get("whoami", headers={"X-User": user} if user else None) as response:
            seen = await response.json()
            set_cookies = len(response.headers.getall("Set-Cookie", []))
    except Exception as exc:  # the suite asserts on the answer, not on a server traceback
        return UpstreamError(502, "bad_gateway", type(exc).__name__).response()
    return JsonResponse(
        {
            "upstream_saw": seen,
            "upstream_set_cookies": set_cookies,
            "session": id(session),
            "pid": os.getpid(),
        }
    )


_thread_state = threading.local()


def thread(request: HttpRequest) -> JsonResponse:
    """``/integration/thread``: a sync view; which thread ran it, and how many requests that
    thread has served (a plain ``threading.local``: it survives on a reused thread)."""
    served = getattr(_thread_state, "served", 0) + 1
    _thread_state.served = served
    return JsonResponse(
        {"pid": os.getpid(), "thread": threading.current_thread().name, "served": served}
    )
