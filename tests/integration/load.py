"""Load for a server under test: many requests, bounded concurrency, bounded total time."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["LoadResult", "Outcome", "fetch", "run_for", "run_load", "run_stampede"]

REQUEST_TIMEOUT = 30.0
"""Seconds one request may take."""
LOAD_DEADLINE = 180.0
"""Seconds a whole load run may take."""


@dataclass
class LoadResult:
    """What the clients got."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    """One line per failed request: a status other than 200, or the client's exception."""
    bodies: list[Any] = field(default_factory=list)
    """The decoded JSON of each 200 answer, if asked for."""
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def error_kinds(self) -> Counter[str]:
        """The failed requests by status or exception class (``"502"``, ``"TimeoutError"``)."""
        return Counter(error.split(": ", 2)[1].split(" ", 1)[0] for error in self.errors)


async def _load(
    base_url: str, paths: Sequence[str], concurrency: int, keep_bodies: bool, deadline: float
) -> LoadResult:
    result = LoadResult()
    pending = iter(paths)
    began = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            for path in pending:  # one shared iterator: each path is requested once
                result.requests += 1
                try:
                    async with session.get(f"{base_url}{path}") as response:
                        body = await response.read()
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    result.errors.append(f"GET {path}: {type(exc).__name__}: {exc}")
                    continue
                result.statuses[response.status] += 1
                if response.status != 200:
                    result.errors.append(f"GET {path}: {response.status} {body[:300]!r}")
                elif keep_bodies:
                    result.bodies.append(json.loads(body))

        await asyncio.wait_for(
            asyncio.gather(*(client() for _ in range(concurrency))), timeout=deadline
        )
    result.seconds = time.perf_counter() - began
    return result


def run_load(
    base_url: str,
    paths: Sequence[str],
    *,
    concurrency: int,
    keep_bodies: bool = False,
    deadline: float = LOAD_DEADLINE,
) -> LoadResult:
    """GET each of ``paths`` once, ``concurrency`` at a time; fail after ``deadline`` s."""
    return asyncio.run(_load(base_url, paths, concurrency, keep_bodies, deadline))


async def _load_for(
    base_url: str, prefix: str, seconds: float, concurrency: int, result: LoadResult
) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    began = time.perf_counter()
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client(number: int) -> None:
            index = 0
            while time.monotonic() < end:
                index += 1
                path = f"{prefix}-{number}-{index}"
                result.requests += 1
                try:
                    async with session.get(f"{base_url}{path}") as response:
                        await response.read()
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    result.errors.append(f"GET {path}: {type(exc).__name__}: {exc}")
                    continue
                result.statuses[response.status] += 1
                if response.status != 200:
                    result.errors.append(f"GET {path}: {response.status}")

        await asyncio.wait_for(
            asyncio.gather(*(client(number) for number in range(concurrency))),
            timeout=seconds + REQUEST_TIMEOUT,
        )
    result.seconds = time.perf_counter() - began


def run_for(
    base_url: str, prefix: str, *, seconds: float, concurrency: int, result: LoadResult
) -> LoadResult:
    """GET ``prefix-<client>-<n>`` paths, ``concurrency`` at a time, for ``seconds``; the
    counts in ``result`` grow as it goes (read them from another thread)."""
    asyncio.run(_load_for(base_url, prefix, seconds, concurrency, result))
    return result


def fetch(base_url: str, path: str) -> tuple[int, Any]:
    """One GET: its status and decoded JSON body."""

    async def get() -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{base_url}{path}") as response,
        ):
            return response.status, await response.json(content_type=None)

    return asyncio.run(get())


@dataclass(frozen=True)
class Outcome:
    """One request of a stampede: ``answered`` (with its status and JSON), ``gave_up`` (the
    client disconnected at its own short timeout) or ``failed`` (any other client error)."""

    kind: str
    status: int = 0
    body: Any = None


async def _stampede(
    url: str, count: int, impatient_every: int, patience: float, deadline: float
) -> list[Outcome]:
    # One connection per request (no limit): they all arrive at once.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(index: int) -> Outcome:
            impatient = index % impatient_every == 0
            timeout = aiohttp.ClientTimeout(total=patience if impatient else REQUEST_TIMEOUT)
            try:
                async with session.get(url, timeout=timeout) as response:
                    body = await response.read()
            except asyncio.TimeoutError:
                return Outcome("gave_up" if impatient else "failed", body="TimeoutError")
            except aiohttp.ClientError as exc:
                return Outcome("failed", body=f"{type(exc).__name__}: {exc}")
            decoded = json.loads(body) if response.status == 200 else body[:300]
            return Outcome("answered", response.status, decoded)

        return await asyncio.wait_for(
            asyncio.gather(*(one(index) for index in range(count))), timeout=deadline
        )


def run_stampede(
    url: str,
    *,
    count: int,
    impatient_every: int,
    patience: float,
    deadline: float = LOAD_DEADLINE,
) -> list[Outcome]:
    """``count`` concurrent GETs of ``url``, each on its own connection; every
    ``impatient_every``-th client disconnects after ``patience`` seconds."""
    return asyncio.run(_stampede(url, count, impatient_every, patience, deadline))
