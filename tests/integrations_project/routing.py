"""The websocket routes."""

from __future__ import annotations

from django.urls import path

from tests.integrations_project import consumers

websocket_urlpatterns = [
    path("ws/forecast", consumers.ForecastConsumer.as_asgi()),
    path("ws/json", consumers.JsonForecastConsumer.as_asgi()),
    path("ws/raw", consumers.RawForecastConsumer.as_asgi()),
]
