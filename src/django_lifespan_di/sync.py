"""Async resources for sync code: one background event loop per process owns them.

Management commands, Celery and Django tasks and sync views under WSGI call the container's
async resources through it, reusing one pooled session instead of opening one per
``async_to_sync`` call::

    from django_lifespan_di import sync

    @sync.inject
    async def forecast(city: str, session: ClientSession = Provide[Container.http_session]):
        async with session.get("/forecast", params={"city": city}) as response:
            return await response.json()

    forecast("Oslo")  # a sync call, run on the background loop

The loop starts on first use (or with :func:`start`) and stops with the ordered shutdown at
:func:`stop`, at interpreter exit, or at a worker's shutdown (:mod:`django_lifespan_di.celery`).
Under an ASGI server, async views keep using the server's loop: this module is not involved.
"""

from __future__ import annotations

from django_lifespan_di._background import inject, run, start, stop

__all__ = ["inject", "run", "start", "stop"]
