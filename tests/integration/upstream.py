"""The weather service the demo calls, run by the suite so that it can count and misbehave.

It answers the demo's ``weather`` and ``quotes`` calls (same JSON shapes as
``demo/upstream.py``) and ``whoami`` (echoes the ``Cookie`` and ``X-User`` it received and sets
a session cookie for that user), under ``/w/<pid>/``: each server process calls its own path
(see the integration settings), so every call is counted per worker, with the connection it
came on. It runs in a thread of the test process, with its own event loop, and can be made slow
(:attr:`Upstream.delay`), taken down (connections refused) and brought back on the same port.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["Call", "Upstream", "running_upstream"]

DEADLINE = 10.0
"""Seconds the upstream gets to start, stop or come back."""
CONDITIONS = ("sunny", "partly cloudy", "overcast", "rain", "snow", "fog", "windy")


@dataclass(frozen=True)
class Call:
    """One request the upstream received."""

    worker: int
    """The pid of the server process that sent it (from the ``/w/<pid>/`` path)."""
    endpoint: str
    peer: tuple[str, int]
    """The client address: one per TCP connection."""
    cookie: str
    user: str


class Upstream:
    """The service, its counters and its controls; thread-safe from the test's side."""

    def __init__(self) -> None:
        self.port = 0
        self.delay = 0.0
        """Seconds each ``weather`` and ``whoami`` call waits before it answers."""
        self._calls: list[Call] = []
        self._in_flight = 0
        self._set_cookies = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="upstream", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Its base URL on 127.0.0.1."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def localhost_url(self) -> str:
        """Its base URL by host name: a cookie jar keeps cookies of a host, not of an IP."""
        return f"http://localhost:{self.port}"

    # -- what it saw --------------------------------------------------------------------------

    def calls(self) -> list[Call]:
        """Every request received so far."""
        with self._lock:
            return list(self._calls)

    @property
    def in_flight(self) -> int:
        """Requests received and not answered yet."""
        with self._lock:
            return self._in_flight

    @property
    def cookies_set(self) -> int:
        """How many ``Set-Cookie`` headers it has sent."""
        with self._lock:
            return self._set_cookies

    def requests_by_worker(self, endpoint: str = "weather") -> Counter[int]:
        """Calls of ``endpoint`` per server process."""
        return Counter(call.worker for call in self.calls() if call.endpoint == endpoint)

    def connections_by_worker(self) -> dict[int, int]:
        """Distinct TCP connections per server process."""
        peers: dict[int, set[tuple[str, int]]] = {}
        for call in self.calls():
            peers.setdefault(call.worker, set()).add(call.peer)
        return {worker: len(found) for worker, found in sorted(peers.items())}

    def reset(self) -> None:
        """Forget what it saw; answer at once again."""
        with self._lock:
            self._calls.clear()
            self._set_cookies = 0
        self.delay = 0.0

    def wait_for_in_flight(self, count: int, timeout: float = DEADLINE) -> None:
        """Return once ``count`` requests are being answered; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self.in_flight < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the upstream has {self.in_flight} requests in flight after {timeout} s, "
                    f"expected {count}"
                )
            time.sleep(0.01)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread and listen on a free port (127.0.0.1, and ::1 where it can)."""
        self._thread.start()
        self._run(self._serve())

    def go_down(self) -> None:
        """Stop listening and close every connection: calls are refused until it comes back."""
        self._run(self._stop())

    def come_back(self) -> None:
        """Listen again, on the same port."""
        self._run(self._serve())

    def come_back_if_down(self) -> None:
        """Listen again if a test took it down."""
        if self._runner is None:
            self.come_back()

    def close(self) -> None:
        """Stop serving, end what is still running (handlers of slow calls), end the thread."""
        with suppress(Exception):
            self._run(self._stop())
        self._run(self._end_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(DEADLINE)
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(DEADLINE)

    async def _serve(self) -> None:
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        self.port = runner.addresses[0][1]
        if socket.has_ipv6:
            # "localhost" may resolve to ::1 first: answer there too, or the client falls back.
            with suppress(OSError):
                await web.TCPSite(runner, "::1", self.port).start()
        self._runner = runner

    async def _stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _end_tasks(self) -> None:
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the service ---------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/w/{worker:\\d+}/weather", self._weather)
        app.router.add_get("/w/{worker:\\d+}/quotes", self._quotes)
        app.router.add_get("/w/{worker:\\d+}/whoami", self._whoami)
        return app

    def _record(self, request: web.Request, endpoint: str) -> Call:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        call = Call(
            worker=int(request.match_info["worker"]),
            endpoint=endpoint,
            peer=(peer[0], peer[1]) if peer else ("?", 0),
            cookie=request.headers.get("Cookie", ""),
            user=request.headers.get("X-User", ""),
        )
        with self._lock:
            self._calls.append(call)
        return call

    async def _slowly(self) -> None:
        if self.delay <= 0:
            return
        with self._lock:
            self._in_flight += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _weather(self, request: web.Request) -> web.Response:
        call = self._record(request, "weather")
        await self._slowly()
        city = request.query.get("city", "")
        digest = hashlib.sha256(city.casefold().encode()).digest()
        return web.json_response(
            {
                "city": city,
                "temperature_c": digest[0] % 40 - 5,
                "humidity_pct": 30 + digest[1] % 60,
                "conditions": CONDITIONS[digest[2] % len(CONDITIONS)],
                "observed_at": "2026-01-01T00:00:00+00:00",
                "seen_from": f"{call.peer[0]}:{call.peer[1]}",
            }
        )

    async def _quotes(self, request: web.Request) -> web.Response:
        self._record(request, "quotes")
        return web.json_response({"quotes": ["Climate is what we expect."]})

    async def _whoami(self, request: web.Request) -> web.Response:
        call = self._record(request, "whoami")
        await self._slowly()
        response = web.json_response({"cookie": call.cookie, "user": call.user})
        if call.user:
            # A session cookie for this host, as many APIs set: a shared cookie jar would
            # send it with every later request, whoever makes it.
            response.set_cookie("sid", f"secret-of-{call.user}", httponly=True)
            with self._lock:
                self._set_cookies += 1
        return response


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    """An upstream listening on a free loopback port until the block ends."""
    upstream = Upstream()
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.close()
