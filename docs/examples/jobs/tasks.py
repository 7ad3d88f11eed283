from __future__ import annotations

import aiohttp
from aiohttp import ClientSession
from asgiref.sync import async_to_sync
from celery import shared_task
from dependency_injector.wiring import Provide
from django.conf import settings

from django_lifespan_di import sync
from jobs.containers import Container


@shared_task
@sync.inject
async def sky(city: str, session: ClientSession = Provide[Container.http_session]) -> str:
    """The sky over ``city``, through the worker process's one pooled session."""
    async with session.get("/forecast", params={"city": city}) as response:
        data = await response.json()
        return str(data["sky"])


@shared_task
def sky_with_a_new_session(city: str) -> str:
    """The same, the usual way: a session (and a connection) per task. For comparison only."""

    async def fetch() -> str:
        async with (
            aiohttp.ClientSession(settings.WEATHER_URL) as session,
            session.get("/forecast", params={"city": city}) as response,
        ):
            data = await response.json()
            return str(data["sky"])

    return async_to_sync(fetch)()
