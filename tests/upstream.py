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
from aiohttp.typedefs import Handler


@dataclass(frozen=True)
class Seen:
    """One request of any route: the origin it was addressed to, its path and its headers."""

    host: str
    path: str
    headers: dict[str, str]  # names in lower case


@dataclass
class Upstream:
    """What the upstream saw, and where it listens."""

    port: int = 0
    connections: set[tuple[str, int]] = field(default_factory=set)
    """The client addresses of the connections requests came on (a port the kernel reuses for
    a later connection counts once: see ``transports`` for an exact count)."""
    transports: dict[int, object] = field(default_factory=dict)
    """Every connection requests came on, by id (held, so that no id is reused meanwhile)."""
    requests: list[dict[str, str]] = field(default_factory=list)
    delay: float = 0.0
    log: list[Seen] = field(default_factory=list)
    """Every request, of every route (``requests`` records only those of ``/data``)."""
    held: threading.Event = field(default_factory=threading.Event)
    """Set when a request to ``/hold`` arrived; ``release()`` lets those requests answer."""
    _loop: asyncio.AbstractEventLoop | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        # A host name, not an IP: aiohttp's default cookie jar ignores cookies from IP hosts,
        # which would hide a cookie shared between users.
        return f"http://localhost:{self.port}"

    @property
    def other_origin_url(self) -> str:
        """The same server under another origin (another host name for the same socket)."""
        return f"http://127.0.0.1:{self.port}"

    async def wait_until_held(self, timeout: float = 10.0) -> None:
        """Return once a request to ``/hold`` has reached the upstream (fail after timeout)."""
        if not await asyncio.to_thread(self.held.wait, timeout):
            raise AssertionError(f"no request reached /hold within {timeout} s")

    def release(self) -> None:
        """Let the requests held at ``/hold`` (and those still to come) answer."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def reset(self) -> None:
        self.release()
        self._release = asyncio.Event()
        self.held.clear()
        self.connections.clear()
        self.transports.clear()
        self.requests.clear()
        self.log.clear()
        self.delay = 0.0


def _app(state: Upstream) -> web.Application:
    def note_connection(request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        state.transports[id(transport)] = transport
        peer = transport.get_extra_info("peername")
        if peer:
            state.connections.add((peer[0], peer[1]))

    async def data(request: web.Request) -> web.Response:
        note_connection(request)
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

    @web.middleware
    async def log(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        state.log.append(Seen(host=request.host, path=request.path, headers=headers))
        return await handler(request)

    async def hold(request: web.Request) -> web.Response:
        """Answer only once the test calls ``release()``: a request that holds its connection."""
        release = state._release
        state.held.set()
        await release.wait()
        return web.Response(text="released")

    async def redirect(request: web.Request) -> web.Response:
        """Redirect (302) to the URL in the ``to`` query parameter."""
        raise web.HTTPFound(location=request.query["to"])

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def forecast(request: web.Request) -> web.Response:
        """The docs' examples' weather service: a clear sky everywhere."""
        note_connection(request)
        return web.json_response({"city": request.query.get("city", ""), "sky": "clear"})

    app = web.Application(middlewares=[log])
    app.router.add_get("/data", data)
    app.router.add_get("/hold", hold)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/echo", echo)
    app.router.add_get("/forecast", forecast)
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
        state._loop = asyncio.get_running_loop()
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
        state.release()
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
