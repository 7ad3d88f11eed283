"""The container of the test project."""

from __future__ import annotations

from dependency_injector import containers, providers
from django.conf import settings

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session


def upstream_url() -> str:
    return str(settings.UPSTREAM_URL)


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    http_session = LifespanResource(client_session, base_url=providers.Callable(upstream_url))
