"""The container of variant (c): the shared session as a ``LifespanResource``."""

from __future__ import annotations

from dependency_injector import containers, providers

from benchmarks.apps.sessions import POOL_SIZE, upstream_url
from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session


class Container(containers.DeclarativeContainer):
    http_session = LifespanResource(
        client_session, base_url=providers.Callable(upstream_url), limit=POOL_SIZE
    )
