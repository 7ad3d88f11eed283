from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from django_lifespan_di.commands import LifespanCommand
from jobs.weather import forecast


class Command(LifespanCommand):
    help = "Print the sky over each city, from sync code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cities", nargs="+")

    def handle(self, *args: Any, cities: list[str], **options: Any) -> None:
        for city in cities:
            self.stdout.write(f"{city}: {forecast(city)}")  # one pooled session for all
