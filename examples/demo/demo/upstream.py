"""The weather service the demo calls, and the resource that starts it or points at a real one.

It is a stand-in for a third-party API: embedded, it runs on 127.0.0.1 inside the server's own
event loop, so the demo works offline and needs no second process.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from aiohttp import web

__all__ = ["QUOTES", "create_app", "weather_service"]

logger = logging.getLogger("demo")

CONDITIONS = ("sunny", "partly cloudy", "overcast", "rain", "snow", "fog", "windy")
QUOTES = (
    "Climate is what we expect, weather is what we get. (Mark Twain)",
    "There is no such thing as bad weather, only unsuitable clothing. (Alfred Wainwright)",
    "Sunshine is delicious, rain is refreshing, wind braces us up. (John Ruskin)",
    "Wherever you go, no matter what the weather, always bring your own sunshine. "
    "(Anthony J. D'Angelo)",
)


def create_app(argv: list[str] | None = None) -> web.Application:
    """The service: ``GET /weather?city=...`` and ``GET /quotes?limit=...``, both JSON.

    ``argv`` is there for aiohttp's runner, to serve it on its own:
    ``python -m aiohttp.web -H 127.0.0.1 -P 8081 demo.upstream:create_app``.
    """
    app = web.Application()
    app.router.add_get("/weather", _weather)
    app.router.add_get("/quotes", _quotes)
    return app


async def _weather(request: web.Request) -> web.Response:
    city = request.query.get("city", "").strip()
    if not city:
        return web.json_response({"error": "the city parameter is required"}, status=400)
    # The same city always gets the same weather, so the demo is reproducible.
    digest = hashlib.sha256(city.casefold().encode()).digest()
    return web.json_response(
        {
            "city": city,
            "temperature_c": digest[0] % 40 - 5,
            "humidity_pct": 30 + digest[1] % 60,
            "conditions": CONDITIONS[digest[2] % len(CONDITIONS)],
            "observed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            # The client's address as the service saw it: one port for many requests shows
            # that they shared one pooled connection.
            "seen_from": _peer(request),
        }
    )


async def _quotes(request: web.Request) -> web.Response:
    try:
        limit = max(0, int(request.query.get("limit", len(QUOTES))))
    except ValueError:
        return web.json_response({"error": "limit must be a whole number"}, status=400)
    return web.json_response({"quotes": list(QUOTES[:limit])})


def _peer(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else "unknown"


async def weather_service(*, url: str = "") -> AsyncIterator[str]:
    """Yield the base URL of the weather service: ``url`` if given, else one started here.

    The embedded service listens on a free port of 127.0.0.1 in the running event loop and
    stops when the resource does, after the session that calls it (which depends on it).
    """
    if url:
        # aiohttp joins relative paths onto a base URL that ends with a slash.
        base = url if url.endswith("/") else f"{url}/"
        logger.info("weather service: %s", base)
        yield base
        return
    runner = web.AppRunner(create_app(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}/"
        logger.info("weather service: embedded, listening on %s", base)
        yield base
    finally:
        await runner.cleanup()
