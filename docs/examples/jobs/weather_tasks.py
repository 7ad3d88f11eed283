"""Django tasks using the process's one pooled session (``django.tasks`` or ``django-tasks``)."""

from __future__ import annotations

from aiohttp import ClientSession
from dependency_injector.wiring import Provide

from django_lifespan_di import sync
from jobs.containers import Container

try:
    from django.tasks import task  # Django 6.0+
except ImportError:  # Django 4.2 and 5.2: the django-tasks backport
    from django_tasks import task


@task
@sync.inject
async def sky(city: str, session: ClientSession = Provide[Container.http_session]) -> str:
    """The sky over ``city``, through the pooled session of the process running the task."""
    async with session.get("/forecast", params={"city": city}) as response:
        response.raise_for_status()
        data = await response.json()
        return str(data["sky"])
