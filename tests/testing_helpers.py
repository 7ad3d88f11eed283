"""Fakes and containers for the tests of ``django_lifespan_di.testing`` and the pytest plugin.

The containers extend the test project's container, so the project's views stay wired to them
(and the system checks run by the lifespan startup pass); select one with :func:`use_container`.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import Any, NoReturn

from aiohttp import ClientResponse, ClientSession
from dependency_injector import containers, providers
from django.test import override_settings

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import client_session
from tests.project.containers import Container

FAKE_PAYLOAD = {"from": "the fake session"}
"""What a :class:`FakeSession` answers to every request."""


class FakeResponse:
    """The part of ``aiohttp.ClientResponse`` the project's views use."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def json(self) -> dict[str, Any]:
        return self.payload


class FakeSession:
    """A stand-in for the shared ``aiohttp.ClientSession``: records the paths it was asked for."""

    closed = False

    def __init__(self, payload: dict[str, Any] | None = None) -> None:
        self.payload = dict(FAKE_PAYLOAD if payload is None else payload)
        self.paths: list[str] = []

    def get(self, path: str, **kwargs: Any) -> FakeResponse:
        self.paths.append(path)
        return FakeResponse(self.payload)


class _SentRequest:
    """The stream writer of a request that has been sent: nothing more will be written."""

    output_size = 0


class MockedResponse(ClientResponse):
    """The response class to give ``aioresponses``: it works with aiohttp 3.14 too.

    aiohttp 3.14 added the required ``stream_writer`` argument to ``ClientResponse``, which
    aioresponses 0.7.9 does not pass (pnuckowski/aioresponses#289); remove this class once an
    aioresponses release passes it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _SentRequest())
        super().__init__(*args, **kwargs)


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(ClientResponse.__init__).parameters


class SessionRecorder:
    """An initializer for ``http_session`` that opens real sessions and keeps each one it opens."""

    def __init__(self) -> None:
        self.sessions: list[ClientSession] = []

    async def open(self, **options: Any) -> AsyncIterator[ClientSession]:
        """Like :func:`~django_lifespan_di.aiohttp.client_session`, recording the session."""
        async with contextlib.asynccontextmanager(client_session)(**options) as session:
            self.sessions.append(session)
            yield session


class Token:
    """What :func:`fetch_token` provides: a value obtained with the session at startup."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.revoked = False


async def fetch_token(session: ClientSession) -> AsyncIterator[Token]:
    """A resource built from the shared session, as an SDK client logging in at startup is."""
    token = Token(session)
    try:
        yield token
    finally:
        token.revoked = True


class StartupFailed(ConnectionRefusedError):
    """Raised by :func:`connect_payments`."""


PAYMENTS_REFUSAL = "payments.invalid:443 refused the connection"


async def connect_payments(session: ClientSession) -> NoReturn:
    """A backend client whose start fails, as when the service refuses connections."""
    raise StartupFailed(PAYMENTS_REFUSAL)


class StopFailed(RuntimeError):
    """Raised by :func:`flush_cache` when it stops."""


async def flush_cache(session: ClientSession) -> AsyncIterator[dict[str, str]]:
    """A resource that starts fine and fails to stop."""
    yield {}
    raise StopFailed("the cache could not flush")


class TokenContainer(Container):
    """The project's container plus ``token``, a resource that depends on ``http_session``."""

    # dependency-injector does not inherit wiring_config.
    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    token = LifespanResource(fetch_token, session=Container.http_session)


class PaymentsContainer(Container):
    """The project's container plus ``payments``, which fails to start after ``http_session``."""

    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    payments = LifespanResource(connect_payments, session=Container.http_session)


class CacheContainer(Container):
    """The project's container plus ``cache``, which fails to stop."""

    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    cache = LifespanResource(flush_cache, session=Container.http_session)


class Clients(containers.DeclarativeContainer):
    """A nested container."""

    api = providers.Object("the real api client")


class NestedContainer(Container):
    """The project's container plus a nested container ``clients``."""

    wiring_config = containers.WiringConfiguration(modules=["tests.project.views"])

    clients = providers.Container(Clients)


def use_container(name: str) -> override_settings:
    """Settings that select the container ``name`` of this module (the app rebuilds it)."""
    return override_settings(
        DJANGO_LIFESPAN_DI={
            "CONTAINER": f"{__name__}.{name}",
            "STARTUP_TIMEOUT": 5,
            "SHUTDOWN_TIMEOUT": 5,
        }
    )
