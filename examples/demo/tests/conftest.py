"""Fixtures of the demo's tests: the app between a real lifespan startup and shutdown, and
upstreams that fail in the two ways the views must tell apart."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from django.test import AsyncClient
from django_lifespan_di.testing import lifespan_client


@pytest_asyncio.fixture(name="client")
async def fixture_client(lifespan_container: Any) -> AsyncIterator[AsyncClient]:
    """An ``AsyncClient`` used while the resources run, with the embedded weather service."""
    async with lifespan_client() as client:
        yield client


@pytest.fixture(name="refusing_url")
def fixture_refusing_url() -> Iterator[str]:
    """A loopback address that refuses connections: bound (so no one else takes the port),
    never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture(name="silent_url")
def fixture_silent_url() -> Iterator[str]:
    """A loopback address that accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
