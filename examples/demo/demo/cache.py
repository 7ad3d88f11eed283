"""An in-memory cache whose entries expire, swept by a background task while the server runs.

A resource of another kind than the session: nothing to connect to, but a task that must not
outlive the server, so shutdown cancels it and waits for it to end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any

__all__ = ["TTLCache", "ttl_cache"]


class TTLCache:
    """Values kept for ``ttl`` seconds after they are set; ``clock`` is for tests."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        self.ttl = ttl
        self.hits = 0
        self.misses = 0
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` if there is none or it has expired."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            self.misses += 1
            return default
        self.hits += 1
        return entry[1]

    def set(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds from now."""
        self._entries[key] = (self._clock() + self.ttl, value)

    def evict_expired(self) -> int:
        """Drop the expired entries (``get`` ignores them, but they hold memory); count them."""
        now = self._clock()
        expired = [key for key, (expires, _) in self._entries.items() if expires <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)

    @property
    def sweeping(self) -> bool:
        """Whether the background sweeper is running."""
        return self._sweeper is not None and not self._sweeper.done()

    def start_sweeping(self, interval: float) -> None:
        """Evict expired entries every ``interval`` seconds, in a task of the running loop."""
        if interval <= 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        if self.sweeping:
            raise RuntimeError("this cache is already being swept")
        self._sweeper = asyncio.ensure_future(self._sweep(interval))

    async def stop_sweeping(self) -> None:
        """Cancel the sweeper and wait until it has ended."""
        if self._sweeper is None:
            return
        self._sweeper.cancel()
        # wait() rather than awaiting the task: a cancellation of our caller must not be
        # mistaken for the sweeper's own, and must still reach the caller.
        await asyncio.wait({self._sweeper})
        self._sweeper = None

    async def _sweep(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.evict_expired()


async def ttl_cache(*, ttl: float, sweep_interval: float) -> AsyncIterator[TTLCache]:
    """A :class:`TTLCache` swept in the background for as long as the resource is up."""
    cache = TTLCache(ttl)
    cache.start_sweeping(sweep_interval)
    try:
        yield cache
    finally:
        await cache.stop_sweeping()
