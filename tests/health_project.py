"""A container with both shared clients (aiohttp and httpx), their views and the probes.

The httpx and health tests point the settings here (``CONTAINER`` and ``ROOT_URLCONF``); the
real-server tests select it with ``LIFESPAN_DI_CASE=health`` (or ``health-gate``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from aiohttp import ClientSession
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from django_lifespan_di import LifespanResource, inject
from django_lifespan_di.aiohttp import client_session
from django_lifespan_di.health import readiness
from django_lifespan_di.httpx import async_client
from tests.project.containers import upstream_url


class Container(containers.DeclarativeContainer):
    http_session = LifespanResource(
        client_session, base_url=providers.Callable(upstream_url), health_url="/echo"
    )
    httpx_client = LifespanResource(
        async_client, base_url=providers.Callable(upstream_url), health_url="/echo"
    )


async def gate(session: ClientSession, client: httpx.AsyncClient) -> AsyncIterator[None]:
    """On shutdown, before any client closes: report what readiness says, then wait for the
    file ``LIFESPAN_DI_GATE`` names (the test creates it once it has read the report)."""
    yield
    response = await readiness(HttpRequest())
    sys.stderr.write(
        f"readiness during shutdown: {response.status_code} {response.content.decode()} "
        f"(session closed: {session.closed}, client closed: {client.is_closed})\n"
    )
    sys.stderr.flush()
    opened = Path(os.environ["LIFESPAN_DI_GATE"])
    deadline = time.monotonic() + 4  # within SHUTDOWN_TIMEOUT (5 s)
    # Polls a condition with a deadline: the file comes from another process.
    while not await asyncio.to_thread(opened.exists) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    sys.stderr.write(f"gate opened: {await asyncio.to_thread(opened.exists)}\n")


class GateContainer(Container):
    """Both clients, and a resource depending on them: it stops first, and waits."""

    gate = LifespanResource(gate, session=Container.http_session, client=Container.httpx_client)


@inject
async def proxy_httpx(
    request: HttpRequest, client: httpx.AsyncClient = Provide[Container.httpx_client]
) -> HttpResponse:
    """Fetch /data from the upstream through the shared httpx client."""
    headers = {"X-User": request.GET["user"]} if "user" in request.GET else {}
    response = await client.get("/data", headers=headers)
    return JsonResponse({"upstream": response.json(), "client": id(client)})


urlpatterns = [
    path("proxy-httpx", proxy_httpx),
    path("health/", include("django_lifespan_di.health")),
]
