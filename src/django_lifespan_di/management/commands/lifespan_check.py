"""``manage.py lifespan_check``: start and stop the container's resources without serving."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, OutputWrapper
from django.core.management.color import no_style

from django_lifespan_di.commands import LifespanCommand
from django_lifespan_di.health import ResourceHealth, check_resources


class Command(LifespanCommand):
    help = (
        "Run the lifespan startup and shutdown of the configured container, without serving: "
        "print each resource and hook with its timing, exit non-zero if any step failed."
    )
    requires_system_checks: list[str] = []  # reported as part of the run, with the steps
    health: dict[str, ResourceHealth]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--ping",
            action="store_true",
            help="Between startup and shutdown, run each resource's health check too.",
        )

    # LifespanCommand runs an async handle on the background loop, between startup and shutdown.
    async def handle(self, *args: Any, **options: Any) -> None:  # type: ignore[override]
        if options.get("ping"):
            self.health = await check_resources()

    def execute(self, *args: Any, **options: Any) -> None:
        # The steps are printed even when the startup fails, before BaseCommand.execute would
        # have set these up.
        if options.get("stdout"):
            self.stdout = OutputWrapper(options["stdout"])
        if options.get("no_color"):
            self.style = no_style()
        self.health = {}
        try:
            super().execute(*args, **options)
        finally:
            self._print_steps()
        down = [name for name, health in self.health.items() if not health.up]
        if down:
            raise CommandError(f"health check failed: {', '.join(down)}")
        self.stdout.write(self.style.SUCCESS("lifespan startup and shutdown succeeded"))

    def _print_steps(self) -> None:
        for event in self.lifecycle.events if self.lifecycle is not None else ():
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
