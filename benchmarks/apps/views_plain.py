"""Django views without the library: (a) a session per request, (b) a module-global session."""

from __future__ import annotations

import asyncio

import aiohttp
from django.http import HttpRequest, HttpResponse

from benchmarks.apps.sessions import PATH, new_httpx_client, new_session

CONSTANT = b"x" * 64


async def per_request(request: HttpRequest) -> HttpResponse:
    """(a) A new ``ClientSession`` (so a new TCP connection) for every request."""
    async with new_session() as session, session.get(PATH) as response:
        body = await response.read()
    return HttpResponse(body, content_type="application/octet-stream")


async def per_request_httpx(request: HttpRequest) -> HttpResponse:
    """(g) A new ``httpx.AsyncClient`` (so a new TCP connection) for every request."""
    async with new_httpx_client() as client:
        response = await client.get(PATH)
    return HttpResponse(response.content, content_type="application/octet-stream")


_session: aiohttp.ClientSession | None = None
_lock = asyncio.Lock()


async def _global_session() -> aiohttp.ClientSession:
    # The usual hand-written way: created on first use under a lock, never closed.
    global _session
    if _session is None:
        async with _lock:
            if _session is None:
                _session = new_session()
    return _session


async def module_global(request: HttpRequest) -> HttpResponse:
    """(b) One module-global session, created on first use."""
    session = await _global_session()
    async with session.get(PATH) as response:
        body = await response.read()
    return HttpResponse(body, content_type="application/octet-stream")


async def constant(request: HttpRequest) -> HttpResponse:
    """A constant 64-byte response: what the handler costs, with no I/O in the view."""
    return HttpResponse(CONSTANT, content_type="application/octet-stream")
