"""Fixtures shared by the suite: the loopback upstream and a fresh container."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from tests.upstream import Upstream, running_upstream

# Assertion helpers shared by several test modules: rewrite their asserts as pytest does the test
# modules', so that a failure in them still shows the values compared.
pytest.register_assert_rewrite("tests.reporting")


@pytest.fixture(name="upstream_server", scope="session")
def fixture_upstream_server() -> Iterator[Upstream]:
    with running_upstream() as upstream:
        yield upstream


@pytest.fixture(name="upstream")
def fixture_upstream(upstream_server: Upstream) -> Iterator[Upstream]:
    """The loopback upstream, with what it saw reset, and the project pointed at it."""
    upstream_server.reset()
    with override_settings(UPSTREAM_URL=upstream_server.url):
        yield upstream_server
    upstream_server.reset()


@pytest.fixture(name="container")
def fixture_container(lifespan_container: Any) -> Any:
    """The plugin's own ``lifespan_container`` (rebuilt for the test), by the suite's name."""
    return lifespan_container


@pytest.fixture(name="pooled")
def fixture_pooled(upstream: Upstream) -> Iterator[Upstream]:
    """The ``Pooled`` container of tests.sync_containers configured, its events reset; the
    background loop stopped after the test."""
    from django_lifespan_di import sync
    from tests import sync_containers

    sync_containers.events.clear()
    with sync_containers.container_settings("Pooled"):
        try:
            yield upstream
        finally:
            sync.stop()
    sync_containers.events.clear()
