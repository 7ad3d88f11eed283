"""Section 2, in one process: Django's ``ASGIHandler`` and ours, side by side, CPU per request.

Servers started one after the other land in throughput modes several percent apart, whatever
the handler. Here both handlers serve the same Django, in the same process, on the same event
loop, batch after batch in alternating order: what differs is the handler alone. Each request
goes through the handler's ``__call__`` as a server sends it (concurrency 32); the process's
CPU time per request is measured (Django's request threads included). Two views: the constant
view, and the proxy view ((b) module-global session under Django's handler, (c) injected
lifespan-started session under ours) against the upstream at ``BENCH_UPSTREAM_URL``.
Run alone with ``python -m benchmarks.handler_inproc [--quick]`` (JSON on stdout).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.apps.settings_di")

import django

django.setup(set_prefix=False)

from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from benchmarks import inprocess  # noqa: E402
from django_lifespan_di.asgi import LifespanASGIHandler  # noqa: E402

App = Callable[..., Awaitable[None]]
CONCURRENCY = 32


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _request(app: App, path: str) -> None:
    sent: list[dict[str, Any]] = []
    body = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if body:
            return body.pop()
        await asyncio.get_running_loop().create_future()  # as a server: no disconnect
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(path), receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{path} answered {sent[0]['status']}: {sent[1:]}")


async def _batch(app: App, path: str, requests: int) -> float:
    """CPU microseconds of this process per request, over ``requests`` requests."""
    began = time.process_time()
    for _ in range(requests // CONCURRENCY):
        await asyncio.gather(*(_request(app, path) for _ in range(CONCURRENCY)))
    return (time.process_time() - began) / requests * 1e6


async def _compare(
    stock: tuple[App, str], ours: tuple[App, str], requests: int, repeats: int
) -> dict[str, Any]:
    await _batch(*stock, requests // 4)  # warm-up: first uses, caches, the session's pool
    await _batch(*ours, requests // 4)
    cpu: dict[str, list[float]] = {"stock": [], "ours": []}
    for repeat in range(repeats):
        order = [("stock", stock), ("ours", ours)]
        for key, (app, path) in order if repeat % 2 == 0 else order[::-1]:
            cpu[key].append(await _batch(app, path, requests))
    # Requests per CPU-second, ours / stock, for each pair measured next to each other.
    ratios = [s / o for s, o in zip(cpu["stock"], cpu["ours"], strict=True)]
    return {
        **{f"{key}_cpu_us": _spread(values) for key, values in cpu.items()},
        "ratio": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def _lifespan(app: App) -> tuple[asyncio.Task[None], asyncio.Queue[dict[str, Any]]]:
    """Start ``app``'s lifespan as a server would; the task and its queue to stop it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    answer = await outbox.get()
    if answer["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"lifespan startup: {answer}")
    return task, inbox


async def measure(requests: int, repeats: int) -> dict[str, Any]:
    stock, ours = ASGIHandler(), LifespanASGIHandler()
    task, inbox = await _lifespan(ours)
    try:
        return {
            "requests_per_batch": requests,
            "repeats": repeats,
            "concurrency": CONCURRENCY,
            "constant": await _compare((stock, "/const"), (ours, "/const"), requests, repeats),
            "proxy": await _compare((stock, "/global"), (ours, "/injected"), requests, repeats),
        }
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await task


def run(quick: bool) -> dict[str, Any]:
    requests, repeats = (320, 2) if quick else (3200, 10)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(measure(requests, repeats))
        result["loop"] = "asyncio"
    else:
        result = uvloop.run(measure(requests, repeats))
        result["loop"] = "uvloop"
    return result


if __name__ == "__main__":
    inprocess.main(run, __doc__)
