"""Section 4: start and stop 10 independent resources that each take 100 ms to start and stop.

Through django-lifespan-di's ``Lifecycle`` (what the lifespan handler runs) and through
dependency-injector's own ``init_resources()`` / ``shutdown_resources()``; fresh containers
for each repeat, medians reported. Run alone with ``python -m benchmarks.lifecycle_cost``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

from dependency_injector import containers, providers

from benchmarks import inprocess
from django_lifespan_di import LifespanResource
from django_lifespan_di._lifecycle import Lifecycle

RESOURCES = 10
DELAY = 0.1


class Client:
    """A resource that takes ``DELAY`` to start and to stop, like a pool that connects."""


async def slow_client() -> AsyncIterator[Client]:
    await asyncio.sleep(DELAY)
    yield Client()
    await asyncio.sleep(DELAY)


def _container(provider: type[providers.Resource[Any]]) -> containers.DynamicContainer:
    container = containers.DynamicContainer()
    for index in range(RESOURCES):
        setattr(container, f"client_{index}", provider(slow_client))
    return container


async def _ours() -> tuple[float, float]:
    lifecycle = Lifecycle(_container(LifespanResource), startup_timeout=30, shutdown_timeout=30)
    began = time.perf_counter()
    started = await lifecycle.startup()
    up = time.perf_counter() - began
    assert len(started) == RESOURCES
    began = time.perf_counter()
    await lifecycle.shutdown()
    return up, time.perf_counter() - began


async def _stock() -> tuple[float, float]:
    container = _container(providers.Resource)
    began = time.perf_counter()
    await container.init_resources()
    up = time.perf_counter() - began
    began = time.perf_counter()
    await container.shutdown_resources()
    return up, time.perf_counter() - began


async def measure(repeats: int) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {
        "ours": {"startup": [], "shutdown": []},
        "stock": {"startup": [], "shutdown": []},
    }
    for _ in range(repeats):
        for key, run_once in (("ours", _ours), ("stock", _stock)):
            up, down = await run_once()
            samples[key]["startup"].append(up * 1000)
            samples[key]["shutdown"].append(down * 1000)
    return samples


def run(quick: bool) -> dict[str, Any]:
    repeats = 2 if quick else 5
    samples = asyncio.run(measure(repeats))
    summary: dict[str, Any] = {"resources": RESOURCES, "delay_ms": DELAY * 1000}
    for key, phases in samples.items():
        for phase, values in phases.items():
            summary[f"{key}_{phase}"] = {
                "ms": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
    summary["repeats"] = repeats
    return summary


if __name__ == "__main__":
    inprocess.main(run, __doc__)
