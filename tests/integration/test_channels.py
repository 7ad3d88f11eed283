"""The Channels composition (``tests/integrations_project/asgi.py``) served by real daphne and
uvicorn processes, talked to by a real websocket client (aiohttp's)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from tests.integration.servers import (
    APP,
    DEADLINE,
    Server,
    ServerProcess,
    server_environment,
    server_named,
)
from tests.upstream import Upstream, running_upstream

COMPOSITION = "tests.integrations_project.asgi:application"
SERVERS = [
    dataclasses.replace(
        server, args=tuple(COMPOSITION if arg == APP else arg for arg in server.args)
    )
    for server in (server_named("uvicorn"), server_named("daphne"))
]
CITIES = ("Oslo", "Bergen", "Tromso")
ROUTES = {"/ws/forecast": str, "/ws/json": lambda city: {"city": city}, "/ws/raw": str}
WEBSOCKET_LIBRARIES = ("websockets", "wsproto")
POOL_CLOSED = re.compile(r"\[(\d+)\] django_lifespan_di: closed the request threads")


@pytest.fixture(name="forecasts", scope="module")
def fixture_forecasts() -> Iterator[Upstream]:
    """The loopback weather service the consumers call (``/forecast?city=``)."""
    with running_upstream() as upstream:
        yield upstream


@contextmanager
def serve_composition(server: Server, upstream_url: str) -> Iterator[ServerProcess]:
    """``server`` serving the composition on a free port, REQUEST_THREADS on; killed after."""
    server.require()
    if server.module == "uvicorn" and not any(map(importlib.util.find_spec, WEBSOCKET_LIBRARIES)):
        pytest.fail(
            "uvicorn serves websockets only with websockets or wsproto installed; the "
            "`integration` extra installs websockets."
        )
    env = server_environment(upstream_url)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.integrations_project.settings",
        INTEGRATIONS_UPSTREAM_URL=upstream_url,
        INTEGRATIONS_REQUEST_THREADS="1",
    )
    running = ServerProcess(server, env)
    try:
        yield running
    finally:
        running.kill()


async def converse(url: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Each route, each city, over one websocket per route; then two HTTP requests."""
    answers = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as client:
        for route, encode in ROUTES.items():
            async with client.ws_connect(url.replace("http", "ws", 1) + route) as websocket:
                for city in CITIES:
                    message = encode(city)
                    if isinstance(message, dict):
                        await websocket.send_json(message)
                    else:
                        await websocket.send_str(message)
                    answers.append({"route": route, **json.loads(await websocket.receive_str())})
        threads = []
        for _ in range(2):
            async with client.get(f"{url}/thread") as response:
                threads.append((await response.json())["thread"])
    return answers, threads


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_websocket_messages_go_through_one_shared_session_and_sigterm_closes_everything_once(
    server: Server, forecasts: Upstream, record: Callable[..., None]
) -> None:
    """Three consumers x three messages: each answered from the upstream through one session
    (the lifespan's under uvicorn, the loop's first-use one under daphne); HTTP on a reused
    request thread; SIGTERM: the session stopped (uvicorn) and the pool closed once, no
    traceback or unclosed resource, the server's own exit code."""
    forecasts.reset()
    with serve_composition(server, forecasts.url) as process:
        process.wait_ready()
        answers, threads = asyncio.run(converse(process.url))
        process.stop(signal.SIGTERM)
        code = process.wait()

    lifecycle = process.lifecycle()
    pools_closed = Counter(POOL_CLOSED.findall(process.output))
    record(
        server=server.name,
        messages=len(answers),
        sessions=len({answer["session"] for answer in answers}),
        upstream_connections=len(forecasts.connections),
        threads=threads,
        lifecycle=dict(lifecycle),
        created=dict(process.created()),
        pools_closed=dict(pools_closed),
        exit_code=code,
    )
    assert [(a["route"], a["city"], a["sky"]) for a in answers] == [
        (route, city, "clear") for route in ROUTES for city in CITIES
    ]
    assert len({(answer["pid"], answer["session"]) for answer in answers}) == 1, answers
    (pid,) = {answer["pid"] for answer in answers}
    assert len(forecasts.connections) == 1  # one pooled connection served all nine
    assert threads[0] == threads[1], threads
    assert threads[0].startswith("django-request"), threads
    if server.sends_lifespan:
        assert lifecycle == Counter(
            {(pid, "started", "http_session"): 1, (pid, "stopped", "http_session"): 1}
        ), process.output
    else:
        assert not lifecycle, process.output
        assert process.created() == Counter({(pid, "http_session"): 1}), process.output
    assert pools_closed == Counter({str(pid): 1}), process.output
    assert process.leaks() == [], process.output
    assert process.problems() == [], process.output
    assert code == server.sigterm_exit, process.output
