from __future__ import annotations

from aiohttp import ClientSession
from dependency_injector.wiring import Provide, inject
from django.http import HttpRequest, JsonResponse

from weather.containers import Container


@inject
async def forecast(
    request: HttpRequest, session: ClientSession = Provide[Container.http_session]
) -> JsonResponse:
    async with session.get("/forecast", params={"city": request.GET["city"]}) as response:
        return JsonResponse(await response.json())
