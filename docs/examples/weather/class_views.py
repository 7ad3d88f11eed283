from __future__ import annotations

from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from django.http import HttpRequest, JsonResponse
from django.views import View

from django_lifespan_di import inject
from weather.containers import Container


class ForecastView(View):
    # Django serves a View subclass asynchronously when all its handlers are async.
    @inject
    async def get(
        self, request: HttpRequest, session: ClientSession = Provide[Container.http_session]
    ) -> JsonResponse:
        async with session.get("/forecast", params={"city": request.GET["city"]}) as response:
            return JsonResponse(await response.json())
