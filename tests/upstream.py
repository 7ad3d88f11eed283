"""A real aiohttp upstream on loopback, in a thread of its own so any event loop can call it.

It stands in for the third-party service a view calls: the one edge our tests fake, because a
user's own tests fake it too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Upstream:
    """What the upstream saw, and where it listens."""

    port: int = 0
    connections: set[tuple[str, int]] = field(default_factory=set)
    requests: list[dict[str, str]] = field(default_factory=list)
    delay: float = 0.0

    @property
    def url(self) -> str:
        # A host name, not an IP: aiohttp's default cookie jar ignores cookies from IP hosts,
        # which would hide a cookie shared between users.
        return f"http://localhost:{self.port}"

    def reset(self) -> None:
        self.connections.clear()
        self.requests.clear()
        self.delay = 0.0


def _app(state: Upstream) -> web.Application:
    async def data(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            state.connections.add((peer[0], peer[1]))
        seen = {
            "cookie": request.headers.get("Cookie", ""),
            "user": request.headers.get("X-User", ""),
        }
        state.requests.append(seen)
        if state.delay:
            await asyncio.sleep(state.delay)
        response = web.json_response(seen)
        if seen["user"]:
            # Every user gets a session cookie for the upstream's host, as many APIs do.
            response.set_cookie("sid", f"secret-of-{seen['user']}")
        return response

    app = web.Application()
    app.router.add_get("/data", data)
    return app


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    """Serve the upstream on 127.0.0.1 (any free port) until the block ends."""
    state = Upstream()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(state), access_log=None)
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state.port = runner.addresses[0][1]
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the upstream did not start within 10 s")
    try:
        yield state
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
