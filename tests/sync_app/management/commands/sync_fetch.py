"""A LifespanCommand of the test suite: one upstream request per user given."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from django_lifespan_di.commands import LifespanCommand
from tests.sync_containers import fetch


class Command(LifespanCommand):
    help = "Fetch /data once per user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("users", nargs="*")

    def handle(self, *args: Any, users: list[str], **options: Any) -> None:
        for user in users:
            self.stdout.write(fetch(user)["user"])
