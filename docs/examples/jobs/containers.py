from __future__ import annotations

from dependency_injector import containers, providers
from django.conf import settings

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session


def weather_url() -> str:
    return str(settings.WEATHER_URL)


class Container(containers.DeclarativeContainer):
    http_session = LifespanResource(
        client_session, base_url=providers.Callable(weather_url), limit=10
    )
