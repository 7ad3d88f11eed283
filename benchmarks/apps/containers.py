"""The container of variants (c) and (f): the shared clients, as LifespanResources."""

from __future__ import annotations

from dependency_injector import containers, providers

from benchmarks.apps.sessions import POOL_SIZE, upstream_url
from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session
from django_lifespan_di.httpx import async_client


class Container(containers.DeclarativeContainer):
    http_session = LifespanResource(
        client_session, base_url=providers.Callable(upstream_url), limit=POOL_SIZE
    )
    # Variant (f): the shared httpx client, with the same pool bound.
    httpx_client = LifespanResource(
        async_client, base_url=providers.Callable(upstream_url), limit=POOL_SIZE
    )
