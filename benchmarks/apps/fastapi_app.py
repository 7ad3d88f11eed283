"""(d) FastAPI: the session created by the lifespan, handed to the endpoint by ``Depends``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from aiohttp import ClientSession
from fastapi import Depends, FastAPI, Request, Response

from benchmarks.apps.sessions import PATH, new_session


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    async with new_session() as session:
        yield {"session": session}


async def get_session(request: Request) -> ClientSession:
    # An async dependency: a sync one would run in the thread pool on every request.
    session: ClientSession = request.state.session
    return session


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/proxy")
async def proxy(session: Annotated[ClientSession, Depends(get_session)]) -> Response:
    async with session.get(PATH) as response:
        body = await response.read()
    return Response(body, media_type="application/octet-stream")
