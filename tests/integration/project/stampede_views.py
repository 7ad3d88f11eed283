"""The view of the stampede case: its resource exists only in the ``Stampede`` container."""

from __future__ import annotations

import os

from demo.views import UpstreamError, fetch_json
from dependency_injector.wiring import Provide
from django.http import HttpRequest, JsonResponse

from django_lifespan_di import inject
from tests.integration.project.containers import SearchClient, Stampede


@inject
async def search(
    request: HttpRequest, client: SearchClient = Provide[Stampede.search]
) -> JsonResponse:
    """``/integration/search?city=Oslo``: the weather through the slow-to-start client; the
    answer names the session and client that served it."""
    try:
        report = await fetch_json(client.session, "weather", city=request.GET["city"])
    except UpstreamError as exc:
        return exc.response()
    return JsonResponse(
        {
            "weather": report,
            "session": id(client.session),
            "client": id(client),
            "pid": os.getpid(),
        }
    )
