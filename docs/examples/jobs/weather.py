from __future__ import annotations

from aiohttp import ClientSession
from dependency_injector.wiring import Provide

from django_lifespan_di import sync
from jobs.containers import Container


@sync.inject
async def forecast(city: str, session: ClientSession = Provide[Container.http_session]) -> str:
    """The sky over ``city``: a sync function, run on the process's background loop."""
    async with session.get("/forecast", params={"city": city}) as response:
        response.raise_for_status()
        data = await response.json()
        return str(data["sky"])
