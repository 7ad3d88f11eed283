"""Containers the real-server tests select through the ``LIFESPAN_DI_CASE`` variable."""

from __future__ import annotations

import asyncio
from typing import NoReturn

from aiohttp import ClientSession
from dependency_injector import containers

from django_lifespan_di import LifespanResource
from tests.project.containers import Container


async def connect_payments(session: ClientSession) -> NoReturn:
    """A backend client whose start fails, as when the service refuses connections."""
    raise ConnectionRefusedError("payments.invalid:443 refused the connection")


class FailingContainer(Container):
    """The test project's container plus a resource that fails after ``http_session`` started."""

    # dependency-injector does not inherit wiring_config.
    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    # Depends on the session, so the session is always up (and must be closed) when it fails.
    payments_client = LifespanResource(connect_payments, session=Container.http_session)


async def give_up_connecting(session: ClientSession) -> NoReturn:
    """A client whose start ends with its own CancelledError (as a cancelled internal task)."""
    raise asyncio.CancelledError("the payments handshake task was cancelled")


class CancelledContainer(Container):
    """The test project's container plus a resource whose start raises CancelledError."""

    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    payments_client = LifespanResource(give_up_connecting, session=Container.http_session)
