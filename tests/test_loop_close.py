"""Closing a loop that created resources lazily: quiet, and every instance closed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session


def _run_recording_loop_errors(main: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    async def wrapped() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        return await main()

    asyncio.run(wrapped())
    return errors


def test_loop_shutdown_closes_a_lazy_session_without_errors() -> None:
    """asyncio.run's cleanup closes a lazily created session and reports no error."""
    resource: LifespanResource[ClientSession] = LifespanResource(client_session)
    sessions: list[ClientSession] = []

    async def main() -> None:
        sessions.append(await resource())

    errors = _run_recording_loop_errors(main)

    assert errors == []
    assert sessions[0].closed


def test_explicit_shutdown_still_runs_the_initializer_cleanup() -> None:
    """An explicit shutdown inside the loop closes the session before the loop ends."""
    resource: LifespanResource[ClientSession] = LifespanResource(client_session)

    async def main() -> None:
        session = await resource()
        await resource.shutdown()
        assert session.closed

    assert _run_recording_loop_errors(main) == []
