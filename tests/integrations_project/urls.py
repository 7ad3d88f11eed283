"""The project's URLs: the Ninja API, the DRF views, and /health for the servers' readiness."""

from __future__ import annotations

import threading

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from tests.integrations_project import drf_views
from tests.integrations_project.ninja_api import api


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def thread(request: HttpRequest) -> JsonResponse:
    """The name of the thread that runs this sync view (``django-request_*`` on a pooled one)."""
    return JsonResponse({"thread": threading.current_thread().name})


urlpatterns = [
    path("ninja/", api.urls),
    path("drf/forecast", drf_views.Weather.as_view()),
    path("drf/cities", drf_views.Cities.as_view({"get": "list"})),
    path("drf/cities/<str:pk>", drf_views.Cities.as_view({"get": "retrieve"})),
    path("drf/forecasts", drf_views.ForecastList.as_view()),
    path("drf/sky", drf_views.sky),
    path("drf/greeting", drf_views.Greeting.as_view()),
    path("health", health),
    path("thread", thread),
]
