"""Django REST framework views (adrf's async ones, and DRF's own sync ones) with injection."""

from __future__ import annotations

from typing import Any

from adrf.decorators import api_view
from adrf.generics import ListAPIView
from adrf.views import APIView as AsyncAPIView
from adrf.viewsets import ViewSet
from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_lifespan_di import inject
from tests.integrations_project.containers import Container, Greeter


async def fetch_forecast(session: ClientSession, city: str) -> dict[str, Any]:
    async with session.get("/forecast", params={"city": city}) as response:
        return dict(await response.json())


# [apiview]
class Weather(AsyncAPIView):
    """The forecast of ``?city=``, from the upstream, through the shared session."""

    @inject
    async def get(
        self, request: Request, session: ClientSession = Provide[Container.http_session]
    ) -> Response:
        return Response(await fetch_forecast(session, request.query_params["city"]))


# [apiview-end]


# [viewset]
class Cities(ViewSet):
    """Forecasts by city: a list of the ``?city=`` ones, and one by its name."""

    @inject
    async def list(
        self, request: Request, session: ClientSession = Provide[Container.http_session]
    ) -> Response:
        cities = request.query_params.getlist("city")
        return Response([await fetch_forecast(session, city) for city in cities])

    @inject
    async def retrieve(
        self,
        request: Request,
        pk: str | None = None,
        session: ClientSession = Provide[Container.http_session],
    ) -> Response:
        return Response(await fetch_forecast(session, str(pk)))


# [viewset-end]


# [generic]
class ForecastSerializer(serializers.Serializer[dict[str, Any]]):
    city = serializers.CharField()
    sky = serializers.CharField()


class ForecastList(ListAPIView):
    """The forecasts of the ``?city=`` cities, serialized and paginated as any list view."""

    serializer_class = ForecastSerializer

    @inject
    async def get(
        self,
        request: Request,
        *args: Any,
        session: ClientSession = Provide[Container.http_session],
        **kwargs: Any,
    ) -> Response:
        cities = request.query_params.getlist("city")
        self.forecasts = [await fetch_forecast(session, city) for city in cities]
        return await self.alist(request, *args, **kwargs)

    def get_queryset(self) -> list[dict[str, Any]]:
        return self.forecasts


# [generic-end]


# [function]
@api_view(["GET"])
@inject
async def sky(
    request: Request, session: ClientSession = Provide[Container.http_session]
) -> Response:
    return Response((await fetch_forecast(session, request.query_params["city"]))["sky"])


# [function-end]


# [sync]
class Greeting(APIView):
    """A plain, sync DRF view given a sync provider's object."""

    @inject
    def get(self, request: Request, greeter: Greeter = Provide[Container.greeter]) -> Response:
        return Response({"greeting": greeter.greet(request.query_params["name"])})


# [sync-end]
