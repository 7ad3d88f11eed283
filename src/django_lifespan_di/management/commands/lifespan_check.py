"""``manage.py lifespan_check``: start and stop the container's resources without serving."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_lifespan_di._lifecycle import Lifecycle, ShutdownError, StartupError
from django_lifespan_di._process import configured_lifecycle
from django_lifespan_di.health import ResourceHealth, check_resources


class Command(BaseCommand):
    help = (
        "Run the lifespan startup and shutdown of the configured container, without serving: "
        "print each resource and hook with its timing, exit non-zero if any step failed."
    )
    requires_system_checks: list[str] = []  # reported as part of the run, with the steps

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--ping",
            action="store_true",
            help="Between startup and shutdown, run each resource's health check too.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            lifecycle = configured_lifecycle()
        except StartupError as exc:
            raise CommandError(str(exc)) from exc
        self.health: dict[str, ResourceHealth] = {}
        failure = asyncio.run(self._run(lifecycle, ping=options.get("ping", False)))
        for event in lifecycle.events:
            line = f"{event.action:<15} {event.name:<40} {event.ms:9.1f} ms"
            if event.error is None:
                self.stdout.write(f"{line}  ok")
            else:
                self.stdout.write(self.style.ERROR(f"{line}  FAILED: {event.error}"))
        for name, health in self.health.items():
            took = f"{health.latency_ms:9.1f} ms" if health.latency_ms is not None else " " * 12
            line = f"{'health':<15} {name:<40} {took}"
            if health.up:
                self.stdout.write(f"{line}  up" + ("" if health.checked else " (no check)"))
            else:
                self.stdout.write(self.style.ERROR(f"{line}  DOWN: {health.error}"))
        down = [name for name, health in self.health.items() if not health.up]
        if down and not failure:
            failure = f"health check failed: {', '.join(down)}"
        if failure:
            raise CommandError(failure)
        self.stdout.write(self.style.SUCCESS("lifespan startup and shutdown succeeded"))

    async def _run(self, lifecycle: Lifecycle, *, ping: bool) -> str | None:
        try:
            await lifecycle.startup()
        except StartupError as exc:
            return f"startup failed: {exc}"
        if ping:
            self.health = await check_resources()
        try:
            await lifecycle.shutdown()
        except ShutdownError as exc:
            return f"shutdown failed: {exc}"
        return None
