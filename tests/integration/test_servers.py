"""Every server, the same scenario: start, load through the shared session, stop, read the logs."""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Callable

import pytest

from tests.integration.load import run_load
from tests.integration.servers import DEADLINE, RESOURCES, SERVERS, Server, ServerProcess, serve
from tests.integration.upstream import Upstream

REQUESTS = 2_000
CONCURRENCY = 32
POOL_SIZE = 10
"""DEMO_HTTP_POOL_SIZE: below CONCURRENCY, so the pool, not the load, bounds the connections."""
SERVER_ENV = {"DEMO_HTTP_POOL_SIZE": str(POOL_SIZE)}


def weather_paths(count: int, prefix: str) -> list[str]:
    """``count`` distinct cities: each one misses the demo's cache and calls the upstream."""
    return [f"/api/weather?city={prefix}-{index}" for index in range(count)]


def lifecycle_by_worker(server: ServerProcess) -> dict[int, str]:
    """pid -> how its resources were started and closed, as the logs and exit report show."""
    lifecycle = server.lifecycle()
    created = server.created()
    reports = server.exit_reports()
    seen: dict[int, str] = {}
    for pid in sorted(server.workers("started") | {pid for pid, _ in created}):
        started = [lifecycle[pid, "started", name] for name in RESOURCES]
        stopped = [lifecycle[pid, "stopped", name] for name in RESOURCES]
        lazily = [created[pid, name] for name in RESOURCES]
        seen[pid] = (
            f"started={started} stopped={stopped} created={lazily} "
            f"open-at-exit={reports.get(pid, 'no report')}"
        )
    return seen


def assert_each_worker_started_and_closed_each_resource_once(
    server: Server, process: ServerProcess
) -> None:
    """One instance of each resource per worker. Under lifespan, started and stopped once
    each. Without: created on first use, closed at exit (the exit report says none open)."""
    lifecycle = process.lifecycle()
    created = process.created()
    if server.sends_lifespan:
        workers = process.workers("started")
        assert len(workers) == server.workers, process.output
        for pid in workers:
            for name in RESOURCES:
                assert lifecycle[pid, "started", name] == 1, (pid, name, process.output)
                assert lifecycle[pid, "stopped", name] == 1, (pid, name, process.output)
                assert created[pid, name] == 1, (pid, name, process.output)
        return
    assert not lifecycle, process.output  # no lifespan: nothing is started up front
    workers = {pid for pid, _ in created}
    assert len(workers) == server.workers, process.output
    for pid in workers:
        for name in RESOURCES:
            assert created[pid, name] == 1, (pid, name, process.output)
        assert process.exit_reports().get(pid) == "none", process.output


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_serves_load_through_one_pooled_session_per_worker_and_stops_cleanly(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """2,000 requests at concurrency 32: no error, pooled connections, one clean lifecycle."""
    # At most pool-size upstream connections per worker; each resource started and closed
    # once per worker; SIGTERM: the server's exit code, no traceback, nothing unclosed.
    with serve(server, upstream.url, **SERVER_ENV) as process:
        process.wait_ready()
        load = run_load(process.url, weather_paths(REQUESTS, "load"), concurrency=CONCURRENCY)
        began = time.monotonic()
        process.stop(signal.SIGTERM)
        code = process.wait()
        stop_seconds = time.monotonic() - began

    connections = upstream.connections_by_worker()
    record(
        server=server.name,
        lifespan=server.sends_lifespan,
        requests=load.requests,
        errors=len(load.errors),
        rps=round(load.per_second),
        upstream_requests=dict(upstream.requests_by_worker()),
        connections_per_worker=connections,
        resources=lifecycle_by_worker(process),
        exit_code=code,
        stop_s=round(stop_seconds, 2),
    )
    assert load.errors == [], load.errors[:10]
    assert load.statuses == {200: REQUESTS}
    assert upstream.requests_by_worker().total() == REQUESTS
    assert all(count <= POOL_SIZE for count in connections.values()), connections
    assert_each_worker_started_and_closed_each_resource_once(server, process)
    assert process.problems() == [], process.output
    assert code == server.sigterm_exit, process.output
    assert stop_seconds < DEADLINE


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_ctrl_c_stops_the_server_and_reports_what_it_closed(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """Ctrl-C: exit 0, every resource closed (by the lifespan shutdown, or at the cancellation
    of the lifespan where a server skips the shutdown, or at exit without lifespan)."""
    with serve(server, upstream.url, **SERVER_ENV) as process:
        process.wait_ready()
        load = run_load(process.url, weather_paths(100, "sigint"), concurrency=8)
        process.stop(signal.SIGINT, group=True)
        code = process.wait()

    lifecycle = process.lifecycle()
    workers = process.workers("started")
    record(
        server=server.name,
        signal="SIGINT to the group",
        errors=len(load.errors),
        resources=lifecycle_by_worker(process),
        exit_code=code,
    )
    assert load.errors == []
    assert code == 0, process.output
    if server.sends_lifespan:
        assert len(workers) == server.workers, process.output
        for pid in workers:
            for name in RESOURCES:
                assert lifecycle[pid, "stopped", name] == 1, (pid, name, process.output)
    else:
        assert set(process.exit_reports().values()) == {"none"}, process.output
    assert process.problems() == [], process.output


GRACEFUL_TIMEOUT = 3


def with_graceful_timeout(server: Server, seconds: int) -> Server:
    """``server`` (a gunicorn) with ``--graceful-timeout seconds``."""
    args = list(server.args)
    args[args.index("--graceful-timeout") + 1] = str(seconds)
    return dataclasses.replace(server, args=tuple(args))


@pytest.mark.parametrize(
    "server", [s for s in SERVERS if s.module == "gunicorn"], ids=lambda server: server.name
)
def test_gunicorn_quick_shutdown_skips_the_lifespan_shutdown(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """SIGINT to the gunicorn master alone (its quick shutdown) skips lifespan.shutdown."""
    # It sends SIGQUIT to the workers. The asgi worker cancels the lifespan task at once, and
    # the library still stops every resource; uvicorn-worker's workers ignore SIGQUIT until
    # gunicorn kills them after --graceful-timeout (nothing closed, nothing logged).
    quick = with_graceful_timeout(server, GRACEFUL_TIMEOUT)
    with serve(quick, upstream.url, **SERVER_ENV) as process:
        process.wait_ready()
        began = time.monotonic()
        process.stop(signal.SIGINT)
        code = process.wait()
        took = time.monotonic() - began

    killed = process.output.count("was sent SIGKILL")
    record(
        server=server.name,
        signal="SIGINT to the master",
        stopped=len(process.workers("stopped")),
        not_closed_warnings=process.output.count("could not close"),
        workers_killed=killed,
        stop_s=round(took, 1),
        exit_code=code,
    )
    assert code == 0, process.output
    assert "Traceback" not in process.output, process.output
    if "asgi" in server.args:
        assert len(process.workers("stopped")) == server.workers, process.output
        assert process.output.count("could not close") == 0, process.output
        assert took < GRACEFUL_TIMEOUT
    else:
        assert not process.workers("stopped"), process.output
        assert killed == server.workers, process.output
        assert took >= GRACEFUL_TIMEOUT
