"""Pytest fixtures (registered through the ``pytest11`` entry point).

* ``lifespan_container``: the container, rebuilt for the test so nothing leaks between tests;
* ``override_provider``: ``override_provider("http_session", fake)``, undone at teardown;
* ``lifespan_client`` (with pytest-asyncio): an ``AsyncClient`` between a real lifespan startup
  and shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

__all__ = ["lifespan_client", "lifespan_container", "override_provider"]


@pytest.fixture(name="lifespan_container")
def lifespan_container() -> Iterator[Any]:
    """The container of the project, freshly built and wired for this test."""
    from django_lifespan_di import _container

    _container.setup()
    yield _container.get_container()
    _container.setup()


@pytest.fixture(name="override_provider")
def override_provider(lifespan_container: Any) -> Iterator[Callable[[Any, object], Any]]:
    """Call it with a provider (or its name) and a value; every override is undone after."""
    from django_lifespan_di.testing import override_providers

    applied: list[override_providers] = []

    def override(key: Any, value: object) -> Any:
        context = override_providers({key: value})
        context.enable()
        applied.append(context)
        return lifespan_container

    yield override
    for context in reversed(applied):
        context.disable()


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture needs pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture(name="lifespan_client")
    async def lifespan_client(lifespan_container: Any) -> AsyncIterator[Any]:
        """A ``django.test.AsyncClient`` used between lifespan startup and shutdown."""
        from django_lifespan_di.testing import lifespan_client as client

        async with client() as async_client:
            yield async_client
