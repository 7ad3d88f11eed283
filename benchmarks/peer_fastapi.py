"""FastAPI's dependency resolution, called as its router calls it (a peer of section 3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.utils import get_dependant, solve_dependencies


class Session:
    """Stands in for the shared client: the benchmark measures getting it, not using it."""


async def get_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def endpoint(session: Annotated[Session, Depends(get_session)]) -> Session:
    return session


async def setup(session: Any) -> Callable[[Any], Awaitable[Any]]:
    """Return ``call(request)``: solve the endpoint's dependencies, then call it."""
    dependant = get_dependant(path="/", call=endpoint)
    stack = AsyncExitStack()
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [],
            "query_string": b"",
            "state": {"session": session},
            "fastapi_inner_astack": stack,
            "fastapi_function_astack": stack,
        }
    )

    async def call(_: Any) -> Any:
        solved = await solve_dependencies(
            request=request, dependant=dependant, async_exit_stack=stack, embed_body_fields=False
        )
        return await endpoint(**solved.values)

    return call
