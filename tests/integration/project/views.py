"""A view the demo does not have: per-user requests through the shared session."""

from __future__ import annotations

import os

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
