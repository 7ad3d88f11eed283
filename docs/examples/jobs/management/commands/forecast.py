from __future__ import annotations

from typing import Any

from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from django.core.management.base import CommandParser

from django_lifespan_di.commands import LifespanCommand
from jobs.containers import Container


class Command(LifespanCommand):
    help = "Print the sky over each city."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cities", nargs="+")

    async def handle(
        self,
        *args: Any,
        cities: list[str],
        session: ClientSession = Provide[Container.http_session],
        **options: Any,
    ) -> None:
        for city in cities:
            async with session.get("/forecast", params={"city": city}) as response:
                data = await response.json()
            self.stdout.write(f"{city}: {data['sky']}")
