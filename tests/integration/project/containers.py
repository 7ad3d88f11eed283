"""The demo's container with one more resource that fails in a given way, one per fault test.

Each extra resource depends on ``http_session``, so the session (and the upstream URL it
needs) is always up when the fault happens, and must be closed in spite of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import NoReturn

from aiohttp import ClientSession
from demo.containers import Container, setting
from dependency_injector import containers, providers

from django_lifespan_di import LifespanResource

# dependency-injector does not inherit wiring_config.
DEMO_WIRING = containers.WiringConfiguration(modules=["demo.views"])


async def connect_ledger(session: ClientSession) -> NoReturn:
    """A client whose start fails, as when its service refuses connections."""
    raise ConnectionRefusedError("ledger.invalid:443 refused the connection")


async def connect_search_index(session: ClientSession) -> NoReturn:
    """A client whose start never ends, as when its service accepts and never answers."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def metrics_exporter(session: ClientSession) -> AsyncIterator[str]:
    """A resource that starts, and fails to flush at shutdown."""
    yield "metrics exporter"
    raise RuntimeError("metrics exporter: the final flush failed")


async def audit_log(session: ClientSession) -> AsyncIterator[str]:
    """A resource that starts, and never finishes its shutdown."""
    yield "audit log"
    await asyncio.Event().wait()


class SearchClient:
    """A client that needs a slow warm-up (a connection, a login) before its first use."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session


async def search_client(session: ClientSession, warmup: float) -> AsyncIterator[SearchClient]:
    """Warm up for ``warmup`` seconds, then serve; created on first use without lifespan."""
    await asyncio.sleep(warmup)
    yield SearchClient(session)


class StartupRaises(Container):
    """``ledger`` fails to start after ``upstream`` and ``http_session`` started."""

    wiring_config = DEMO_WIRING
    ledger: LifespanResource[NoReturn] = LifespanResource(
        connect_ledger, session=Container.http_session
    )


class StartupHangs(Container):
    """``search_index`` never finishes starting: STARTUP_TIMEOUT must end it."""

    wiring_config = DEMO_WIRING
    search_index: LifespanResource[NoReturn] = LifespanResource(
        connect_search_index, session=Container.http_session
    )


class ShutdownRaises(Container):
    """``metrics`` raises when it is stopped; the others must still be closed."""

    wiring_config = DEMO_WIRING
    metrics: LifespanResource[str] = LifespanResource(
        metrics_exporter, session=Container.http_session
    )


class ShutdownHangs(Container):
    """``audit`` never finishes stopping: SHUTDOWN_TIMEOUT must end it."""

    wiring_config = DEMO_WIRING
    audit: LifespanResource[str] = LifespanResource(audit_log, session=Container.http_session)


class Stampede(Container):
    """``search`` takes INTEGRATION_WARMUP seconds to start, on top of the demo's resources."""

    wiring_config = DEMO_WIRING
    search: LifespanResource[SearchClient] = LifespanResource(
        search_client,
        session=Container.http_session,
        warmup=providers.Callable(setting, "INTEGRATION_WARMUP"),
    )
