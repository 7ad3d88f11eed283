"""Section 3: what one call of an async view costs, by how its dependency gets to it.

In process, on the event loop the servers use: each variant is awaited N times in a tight loop
(GC off), the variants interleaved within each of several repeats; the median ns per call is
reported, and the overhead is that minus the plain call's. ``django_lifespan_di.inject``
resolves against the process's container, so this configures Django with this module's
``Container``. Run alone with ``python -m benchmarks.inject_cost [--quick]`` (JSON on stdout).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import django
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject
from django.conf import settings

import django_lifespan_di
from benchmarks import inprocess
from django_lifespan_di import LifespanResource, get_container


class Session:
    """Stands in for the shared client: the benchmark measures getting it, not using it."""


async def _session() -> AsyncIterator[Session]:
    yield Session()


class Container(containers.DeclarativeContainer):
    ours = LifespanResource(_session)
    ours_2 = LifespanResource(_session)
    ours_3 = LifespanResource(_session)
    ours_4 = LifespanResource(_session)
    stock_async = providers.Resource(_session)
    stock_object = providers.Object(Session())


async def plain(request: Any, session: Session) -> Session:
    return session


@django_lifespan_di.inject
async def ours(request: Any, session: Session = Provide[Container.ours]) -> Session:
    return session


@django_lifespan_di.inject
async def ours_four(
    request: Any,
    s1: Session = Provide[Container.ours],
    s2: Session = Provide[Container.ours_2],
    s3: Session = Provide[Container.ours_3],
    s4: Session = Provide[Container.ours_4],
) -> Session:
    return s1


@inject
async def stock_ours(request: Any, session: Session = Provide[Container.ours]) -> Session:
    return session


@inject
async def stock_async(request: Any, session: Session = Provide[Container.stock_async]) -> Session:
    return session


@inject
async def stock_object(request: Any, session: Session = Provide[Container.stock_object]) -> Session:
    return session


VARIANTS = {
    "plain": "plain async call, session passed in",
    "ours": "django_lifespan_di.inject, LifespanResource",
    "ours_four": "django_lifespan_di.inject, 4 LifespanResources",
    "stock_ours": "d-i @inject (wired), LifespanResource",
    "stock_async": "d-i @inject (wired), async providers.Resource",
    "stock_object": "d-i @inject (wired), sync providers.Object",
    "wireup": "wireup inject_from_container, async singleton",
    "fastapi": "FastAPI solve_dependencies + Depends",
}
PEERS = {"wireup": "benchmarks.peer_wireup", "fastapi": "benchmarks.peer_fastapi"}


async def _per_call_ns(call: Callable[..., Awaitable[Any]], args: tuple[Any, ...], n: int) -> float:
    gc.collect()
    gc.disable()
    try:
        began = time.perf_counter_ns()
        for _ in range(n):
            await call(*args)
        return (time.perf_counter_ns() - began) / n
    finally:
        gc.enable()


async def measure(iterations: int, repeats: int) -> dict[str, Any]:
    container = get_container()
    container.wire(modules=[sys.modules[__name__]])  # for dependency-injector's @inject
    try:
        for provider in (container.ours, container.ours_2, container.ours_3, container.ours_4):
            await provider.init()
        await container.stock_async.init()
        session = Session()
        calls: dict[str, tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = {
            "plain": (plain, (None, session)),
            "ours": (ours, (None,)),
            "ours_four": (ours_four, (None,)),
            "stock_ours": (stock_ours, (None,)),
            "stock_async": (stock_async, (None,)),
            "stock_object": (stock_object, (None,)),
        }
        skipped: dict[str, str] = {}
        for key, module in PEERS.items():
            try:
                peer = importlib.import_module(module)
                calls[key] = (await peer.setup(session), (None,))
            except Exception as exc:  # a peer that does not install or changed its API
                skipped[key] = f"{type(exc).__name__}: {exc}"
        for key, (call, args) in calls.items():  # each must really get its dependency
            got = await call(*args)
            assert type(got).__name__ == "Session", f"{key} got {got!r}"
        samples: dict[str, list[float]] = {key: [] for key in calls}
        await _per_call_ns(plain, (None, session), iterations)  # warm-up
        for repeat in range(repeats):
            keys = list(calls)
            keys = keys[repeat % len(keys) :] + keys[: repeat % len(keys)]
            for key in keys:
                call, args = calls[key]
                samples[key].append(await _per_call_ns(call, args, iterations))
    finally:
        await container.shutdown_resources()
        container.unwire()
    return {"iterations": iterations, "repeats": repeats, "samples": samples, "skipped": skipped}


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians, overheads over the plain call, and the ratios the targets are about."""
    rows: dict[str, dict[str, Any]] = {}
    plain_ns = statistics.median(raw["samples"]["plain"])
    for key, values in raw["samples"].items():
        median = statistics.median(values)
        rows[key] = {
            "label": VARIANTS[key],
            "ns": median,
            "min": min(values),
            "max": max(values),
            "overhead_ns": median - plain_ns,
            "vs_plain": median / plain_ns,
        }
    ours_overhead = rows["ours"]["overhead_ns"]
    per_extra = (rows["ours_four"]["ns"] - rows["ours"]["ns"]) / 3
    return {
        "rows": rows,
        "skipped": raw["skipped"],
        "iterations": raw["iterations"],
        "repeats": raw["repeats"],
        "ours_overhead_ns": ours_overhead,
        "ours_marginal_ns_per_resource": per_extra,
        "ours_fixed_ns": ours_overhead - per_extra,
        "stock_async_over_ours": rows["stock_async"]["overhead_ns"] / ours_overhead,
        "stock_inject_fixed_ns": rows["stock_object"]["overhead_ns"],
    }


def _configure_django() -> None:
    settings.configure(
        INSTALLED_APPS=["django_lifespan_di"],
        DJANGO_LIFESPAN_DI={"CONTAINER": f"{__name__}.Container"},
    )
    django.setup()


def run(quick: bool) -> dict[str, Any]:
    _configure_django()
    iterations, repeats = (5_000, 3) if quick else (40_000, 7)
    try:
        import uvloop
    except ImportError:
        raw = asyncio.run(measure(iterations, repeats))
        loop = "asyncio"
    else:
        raw = uvloop.run(measure(iterations, repeats))
        loop = "uvloop"
    result = summarize(raw)
    result["loop"] = loop
    return result


if __name__ == "__main__":
    inprocess.main(run, __doc__)
