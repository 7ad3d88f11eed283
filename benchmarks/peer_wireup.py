"""wireup's injection of an async singleton (a peer of section 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import wireup
from wireup import Injected


class Session:
    """Stands in for the shared client: the benchmark measures getting it, not using it."""


@wireup.injectable
async def make_session() -> AsyncIterator[Session]:
    yield Session()


async def setup(session: Any) -> Callable[[Any], Awaitable[Any]]:
    """Return the injected view, its singleton already created (as a lifespan would)."""
    container = wireup.create_async_container(injectables=[make_session])
    await container.get(Session)

    @wireup.inject_from_container(container)
    async def view(request: Any, session: Injected[Session]) -> Session:
        return session

    return view
