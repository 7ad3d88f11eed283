"""Channels consumers whose handlers get the shared session injected.

Each answers a message naming a city with that city's forecast from the upstream, fetched
through the session, and says which session (and process) served it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aiohttp import ClientSession
from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from dependency_injector.wiring import Provide

from django_lifespan_di import inject
from tests.integrations_project.containers import Container


async def forecast(session: ClientSession, city: str) -> dict[str, Any]:
    async with session.get("/forecast", params={"city": city}) as response:
        answer = dict(await response.json())
    return {**answer, "session": id(session), "pid": os.getpid()}


# [websocket]
class ForecastConsumer(AsyncWebsocketConsumer):
    @inject
    async def receive(
        self,
        text_data: str | None = None,
        bytes_data: bytes | None = None,
        session: ClientSession = Provide[Container.http_session],
    ) -> None:
        await self.send(text_data=json.dumps(await forecast(session, text_data or "")))


# [websocket-end]


# [json]
class JsonForecastConsumer(AsyncJsonWebsocketConsumer):
    @inject
    async def receive_json(
        self,
        content: dict[str, Any],
        session: ClientSession = Provide[Container.http_session],
        **kwargs: Any,
    ) -> None:
        await self.send_json(await forecast(session, content["city"]))


# [json-end]


# [consumer]
class RawForecastConsumer(AsyncConsumer):
    async def websocket_connect(self, message: dict[str, Any]) -> None:
        await self.send({"type": "websocket.accept"})

    @inject
    async def websocket_receive(
        self, message: dict[str, Any], session: ClientSession = Provide[Container.http_session]
    ) -> None:
        text = json.dumps(await forecast(session, message.get("text") or ""))
        await self.send({"type": "websocket.send", "text": text})

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        raise StopConsumer


# [consumer-end]
