"""A bounded soak (``nox -s soak``, not in CI): a server under steady load for a minute keeps
its open file descriptors and memory flat."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.integration.load import LoadResult, run_for
from tests.integration.servers import DEADLINE, serve, server_named
from tests.integration.upstream import Upstream

pytestmark = pytest.mark.soak

SECONDS = float(os.environ.get("INTEGRATION_SOAK_SECONDS", "60"))
INTERVAL = 5.0
"""Seconds between two samples."""
CONCURRENCY = 16
POOL_SIZE = 10
FD_SLACK = 8
"""Open files the server may vary by between samples (connections come and go)."""
RSS_GROWTH_MIB = 16.0
"""Memory the server may gain after its first sample (allocator arenas settle)."""
SERVER = os.environ.get("INTEGRATION_SOAK_SERVER", "uvicorn")


def sample(process: psutil.Process) -> tuple[int, float]:
    """Open file descriptors and resident memory (MiB) of ``process`` and its children."""
    tree = [process, *process.children(recursive=True)]
    fds = sum(member.num_fds() for member in tree)
    rss = sum(member.memory_info().rss for member in tree) / 2**20
    return fds, round(rss, 1)


def test_file_descriptors_and_memory_stay_flat_under_steady_load(
    upstream: Upstream, record: Callable[..., None]
) -> None:
    """Under steady load, open file descriptors and memory sampled every 5 s stay flat."""
    server = server_named(SERVER)
    env = {
        "DEMO_HTTP_POOL_SIZE": str(POOL_SIZE),
        # Every city is new: keep the cache from growing with the request count.
        "DEMO_CACHE_TTL": "1",
        "DEMO_CACHE_SWEEP_INTERVAL": "1",
    }
    result = LoadResult()
    series: list[tuple[float, int, float, int]] = []
    with serve(server, upstream.url, **env) as process, ThreadPoolExecutor(1) as background:
        process.wait_ready()
        watched = psutil.Process(process.process.pid)
        began = time.monotonic()
        load = background.submit(
            run_for,
            process.url,
            "/api/weather?city=soak",
            seconds=SECONDS,
            concurrency=CONCURRENCY,
            result=result,
        )
        for tick in range(1, int(SECONDS // INTERVAL)):  # samples while the load runs
            time.sleep(max(0.0, began + tick * INTERVAL - time.monotonic()))
            fds, rss = sample(watched)
            series.append((round(time.monotonic() - began), fds, rss, result.requests))
        load.result(SECONDS + DEADLINE)
        process.stop(signal.SIGTERM)
        code = process.wait()

    record(
        server=server.name,
        check=f"soak {SECONDS:g} s",
        requests=result.requests,
        errors=len(result.errors),
        rps=round(result.per_second),
        series="[" + ", ".join(f"{t}s: fds={f} rss={r}MiB n={n}" for t, f, r, n in series) + "]",
        exit_code=code,
    )
    assert result.errors == [], result.errors[:5]
    assert len(series) >= 3, series
    steady = series[1:]  # the first sample still includes the warm-up
    fds = [f for _, f, _, _ in steady]
    rss = [r for _, _, r, _ in steady]
    assert max(fds) - min(fds) <= FD_SLACK, series
    assert rss[-1] - rss[0] <= RSS_GROWTH_MIB, series
    assert max(upstream.connections_by_worker().values()) <= POOL_SIZE
    assert process.problems() == [], process.output
