from __future__ import annotations

from dependency_injector import containers

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session


class Container(containers.DeclarativeContainer):
    http_session = LifespanResource(client_session, base_url="https://api.example.com", limit=50)
