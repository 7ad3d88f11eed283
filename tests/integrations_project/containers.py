"""The container: the shared aiohttp session, and a plain sync service."""

from __future__ import annotations

from dataclasses import dataclass

from dependency_injector import containers, providers
from django.conf import settings

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session


def upstream_url() -> str:
    return str(settings.UPSTREAM_URL)


@dataclass(frozen=True)
class Greeter:
    """A sync service: what a sync view (DRF's, Ninja's) can be given."""

    greeting: str

    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}"


class Container(containers.DeclarativeContainer):
    http_session = LifespanResource(client_session, base_url=providers.Callable(upstream_url))
    greeter = providers.Singleton(Greeter, greeting="Hello")
