"""Containers and functions for the tests of the background loop (``django_lifespan_di.sync``).

Their resources write what they do to :data:`events`; the tests reset it before each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientSession
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide
from django.core.management.base import CommandError, CommandParser
from django.test import override_settings
from django.urls import URLPattern

from django_lifespan_di import LifespanResource, inject, sync
from django_lifespan_di.aiohttp import client_session
from django_lifespan_di.commands import LifespanCommand
from tests.project.containers import upstream_url

POOL_LIMIT = 4
"""The connection pool limit of the shared session."""

events: list[str] = []
"""What the resources did, in order; reset per test."""

# No views: the system checks that startup runs have nothing of the project's to check here.
urlpatterns: list[URLPattern] = []


leftovers: list[Any] = []
"""Tasks a test leaves running on the background loop (kept from the garbage collector)."""


async def started(resource: Any) -> Any:
    return await resource.init()


async def stopped(resource: Any) -> None:
    await resource.shutdown()


class StartFailed(Exception):
    """Raised by a resource that cannot start."""


async def tracked(name: str, fail: bool = False) -> AsyncIterator[str]:
    """A resource that records its start and its stop (or fails to start)."""
    if fail:
        events.append(f"fail {name}")
        raise StartFailed(f"{name} is down")
    events.append(f"start {name}")
    try:
        yield name
    finally:
        events.append(f"stop {name}")


class Pooled(containers.DeclarativeContainer):
    """A shared session with a small pool, and a resource built from it."""

    http_session = LifespanResource(
        client_session, base_url=providers.Callable(upstream_url), limit=POOL_LIMIT
    )
    audit = LifespanResource(tracked, "audit")
    client = LifespanResource(tracked, providers.Callable(lambda _: "client", http_session))


class Failing(containers.DeclarativeContainer):
    """A resource that starts, then one that fails."""

    audit = LifespanResource(tracked, "audit")
    broken = LifespanResource(tracked, "broken", fail=True)


async def fetch_data(
    user: str, session: ClientSession = Provide[Pooled.http_session]
) -> dict[str, Any]:
    """One upstream request through the injected session."""
    async with session.get("/data", headers={"X-User": user}) as response:
        data: dict[str, Any] = await response.json()
        return data


fetch = sync.inject(fetch_data)
"""``fetch_data`` for sync callers, on the background loop."""


@sync.inject
def session_of_sync_caller(session: ClientSession = Provide[Pooled.http_session]) -> Any:
    """A sync function that gets the session (and would use it through ``sync.run``)."""
    return session


@inject
async def session_here(session: ClientSession = Provide[Pooled.http_session]) -> Any:
    """The session of whatever loop runs this."""
    return session


class AsyncCommand(LifespanCommand):
    """An async handle with the session injected: prints the users it fetched as."""

    async def handle(
        self, *args: Any, session: ClientSession = Provide[Pooled.http_session], **options: Any
    ) -> str:
        async with session.get("/data", headers={"X-User": "async"}) as response:
            data = await response.json()
        events.append(f"handled {data['user']}")
        return "async done"


class SyncCommand(LifespanCommand):
    """A sync handle with the session injected, using it through sync.run."""

    def handle(
        self, *args: Any, session: ClientSession = Provide[Pooled.http_session], **options: Any
    ) -> None:
        for user in options.get("users", ["s1", "s2"]):
            self.stdout.write(fetch(user, session=session)["user"])
        events.append(f"handled with {type(session).__name__}")


class PlainCommand(LifespanCommand):
    """A sync handle asking for nothing, that may fail."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fail", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["fail"]:
            raise CommandError("handle failed")
        self.stdout.write(fetch("plain")["user"])


def container_settings(container: str) -> override_settings:
    """Settings selecting a container of ``tests.sync_containers``."""
    return override_settings(
        ROOT_URLCONF=__name__,
        DJANGO_LIFESPAN_DI={
            "CONTAINER": f"{__name__}.{container}",
            "STARTUP_TIMEOUT": 10.0,
            "SHUTDOWN_TIMEOUT": 10.0,
        },
    )
