"""Celery workers (prefork, solo, threads) of the docs' example, with a real Redis broker."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.celery_worker import running_redis, start_worker
from tests.processes import DEADLINE
from tests.upstream import Upstream, running_upstream

TASKS = 500
POOL_LIMIT = 10  # the limit of the example's session (docs/examples/jobs/containers.py)
CONCURRENCY = 2
PROCESSES = {"prefork": CONCURRENCY, "solo": 1, "threads": 1}


@pytest.fixture(name="broker", scope="module")
def fixture_broker() -> Iterator[str]:
    with running_redis() as url:
        yield url


@pytest.fixture(name="weather", scope="module")
def fixture_weather() -> Iterator[Upstream]:
    with running_upstream() as upstream:
        yield upstream


@pytest.fixture(name="client")
def fixture_client(broker: str) -> Iterator[Any]:
    from celery import Celery

    client = Celery("client", broker=broker, backend=broker)
    yield client
    client.close()


def started_and_stopped(output: str) -> tuple[int, int]:
    """Lifecycle log lines: Celery's own (not its stderr redirection), or from before its setup."""

    def count(action: str) -> int:
        celery = re.findall(rf"INFO/[^\]]+\] {action} http_session in", output)
        early = re.findall(rf"^INFO +django_lifespan_di: {action} http_session in", output, re.M)
        return len(celery) + len(early)

    return count("started"), count("stopped")


def run_tasks(client: Any, name: str, count: int) -> tuple[list[Any], float]:
    began = time.perf_counter()
    results = [client.send_task(name, args=[f"city{i}"]) for i in range(count)]
    values = [result.get(timeout=DEADLINE * 2) for result in results]
    return values, time.perf_counter() - began


@pytest.mark.parametrize("pool", ["prefork", "solo", "threads"])
def test_tasks_share_the_pooled_session_and_shutdown_closes_it_once(
    pool: str,
    broker: str,
    weather: Upstream,
    client: Any,
    record: Callable[..., None],
) -> None:
    """500 tasks open at most the pool's limit of connections per process; one close each."""
    weather.reset()
    worker = start_worker(pool, broker, weather.url, CONCURRENCY)
    try:
        assert worker.wait_for_output(lambda out: " ready." in out, DEADLINE), worker.output
        values, took = run_tasks(client, "jobs.tasks.sky", TASKS)
        assert values == ["clear"] * TASKS
        connections = len(weather.connections)
        assert 1 <= connections <= POOL_LIMIT * PROCESSES[pool], worker.output
        worker.stop(signal.SIGTERM)
        assert worker.wait() == 0, worker.output
    finally:
        worker.kill()
    started, stopped = started_and_stopped(worker.output)
    checked = 1 if pool == "prefork" else 0  # the main process checks, then forks
    assert started == stopped == PROCESSES[pool] + checked, worker.output
    assert "Traceback" not in worker.output, worker.output
    record(pool=pool, tasks=TASKS, seconds=round(took, 2), upstream_connections=connections)


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_failing_resource_stops_the_worker_naming_it(pool: str, broker: str) -> None:
    """A resource that cannot start: the worker exits non-zero, the resource named."""
    worker = start_worker(pool, broker, "nonsense")
    try:
        code = worker.wait()
    finally:
        worker.kill()
    assert code != 0
    assert "Celery worker not started: resource 'http_session' failed to start" in worker.output
    assert "URL should be absolute" in worker.output


def test_benchmark_pooled_session_vs_a_session_per_task(
    broker: str, weather: Upstream, client: Any, record: Callable[..., None]
) -> None:
    """1,000 tasks each making one upstream request: the pooled session vs one per task."""
    rows = {}
    worker = start_worker("prefork", broker, weather.url, CONCURRENCY)
    try:
        assert worker.wait_for_output(lambda out: " ready." in out, DEADLINE), worker.output
        for task in ("jobs.tasks.sky", "jobs.tasks.sky_with_a_new_session"):
            weather.reset()
            values, took = run_tasks(client, task, 1000)
            assert values == ["clear"] * 1000
            rows[task] = (round(took, 2), len(weather.transports))
        worker.stop(signal.SIGTERM)
        worker.wait()
    finally:
        worker.kill()
    pooled, per_task = rows["jobs.tasks.sky"], rows["jobs.tasks.sky_with_a_new_session"]
    assert pooled[1] <= POOL_LIMIT * CONCURRENCY
    assert per_task[1] == 1000
    record(
        benchmark="1000 Celery tasks, prefork x2",
        pooled_seconds=pooled[0],
        pooled_connections=pooled[1],
        per_task_seconds=per_task[0],
        per_task_connections=per_task[1],
    )
