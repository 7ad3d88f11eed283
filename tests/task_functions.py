"""Task functions for the tests of Django tasks (``tests/test_tasks.py``).

Plain module-level functions: each test makes them tasks with the decorator of the tasks
framework it runs (``django.tasks`` or the ``django-tasks`` backport).
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession
from dependency_injector.wiring import Provide

from django_lifespan_di import inject, sync
from tests.sync_containers import Pooled, fetch


@sync.inject
async def fetch_user(user: str, session: ClientSession = Provide[Pooled.http_session]) -> Any:
    """One upstream request through the background loop's session; the user and the session."""
    async with session.get("/data", headers={"X-User": user}) as response:
        data = await response.json()
    return {"user": data["user"], "session": id(session)}


@sync.inject
def fetch_user_sync(user: str, session: ClientSession = Provide[Pooled.http_session]) -> Any:
    """A sync task function: it gets the session and uses it through ``sync.run``."""
    return {"user": fetch(user, session=session)["user"], "session": id(session)}


@sync.inject
async def fetch_with_context(
    context: Any, user: str, session: ClientSession = Provide[Pooled.http_session]
) -> Any:
    """A task taking its context first, then its argument; the session injected."""
    async with session.get("/data", headers={"X-User": user}) as response:
        data = await response.json()
    return {"user": data["user"], "attempt": context.attempt, "session": id(session)}


@inject
async def fetch_on_its_own_loop(
    user: str, session: ClientSession = Provide[Pooled.http_session]
) -> Any:
    """The control: an async task function with the view decorator, no background loop."""
    async with session.get("/data", headers={"X-User": user}) as response:
        data = await response.json()
    return data["user"]


async def needs_a_session(session: ClientSession = Provide[Pooled.http_session]) -> None:
    """Not injected: the tests decorate it in the wrong order."""
