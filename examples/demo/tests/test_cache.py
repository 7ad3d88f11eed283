"""The TTL cache resource: expiry, eviction, and the sweeper task's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from demo.cache import TTLCache, ttl_cache

DEADLINE = 5.0
"""Seconds the background sweeper gets to evict an expired entry."""


async def eventually(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds; fail if it still does not after DEADLINE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"still false after {DEADLINE:g} s")
        await asyncio.sleep(0.01)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_after_the_ttl() -> None:
    """An entry is returned until ``ttl`` seconds have passed, then it is a miss."""
    clock = Clock()
    cache = TTLCache(10, clock=clock)
    cache.set("oslo", {"temperature_c": 3})

    clock.now += 9.9
    assert cache.get("oslo") == {"temperature_c": 3}
    clock.now += 0.1
    assert cache.get("oslo") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_evict_expired_drops_only_expired_entries() -> None:
    """Eviction removes what has expired and keeps the rest."""
    clock = Clock()
    cache = TTLCache(10, clock=clock)
    cache.set("old", 1)
    clock.now += 5
    cache.set("new", 2)
    clock.now += 5

    assert cache.evict_expired() == 1
    assert len(cache) == 1
    assert cache.get("new") == 2


@pytest.mark.parametrize("ttl", [0, -1])
def test_a_ttl_that_is_not_positive_is_refused(ttl: float) -> None:
    """A zero or negative ttl is a configuration mistake, reported at once."""
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        TTLCache(ttl)


@pytest.mark.asyncio
async def test_the_sweeper_evicts_expired_entries_in_the_background() -> None:
    """While swept, an expired entry leaves the cache without anyone asking for it."""
    clock = Clock()
    cache = TTLCache(10, clock=clock)
    cache.set("oslo", 1)
    clock.now += 10
    cache.start_sweeping(0.01)
    try:
        await eventually(lambda: len(cache) == 0)
    finally:
        await cache.stop_sweeping()


@pytest.mark.asyncio
async def test_the_resource_stops_its_sweeper_at_shutdown() -> None:
    """The sweeper runs while the resource is up and has ended once it is closed."""
    resource = ttl_cache(ttl=30, sweep_interval=60)
    cache = await anext(resource)
    assert cache.sweeping

    with pytest.raises(StopAsyncIteration):
        await anext(resource)
    assert not cache.sweeping
