"""Faults, each in a real server: resources that fail or hang, an upstream that is down or slow,
a cold-start stampede without lifespan, a SIGTERM with requests in flight."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.load import fetch, run_load, run_stampede
from tests.integration.servers import (
    DEADLINE,
    RESOURCES,
    SERVERS,
    Server,
    ServerProcess,
    serve,
    server_named,
)
from tests.integration.upstream import Upstream

UVICORN = server_named("uvicorn")
LIFESPAN_SERVERS = [server for server in SERVERS if server.sends_lifespan]
NO_LIFESPAN_SERVERS = [server_named("daphne"), server_named("uvicorn-lifespan-off")]
TIMEOUT = 2.0
"""STARTUP_TIMEOUT and SHUTDOWN_TIMEOUT of the hanging-resource tests, in seconds."""
MARGIN = 10.0
"""Seconds a server may take beyond a timeout: interpreter and Django start, teardown."""


def failure_lines(process: ServerProcess, fragment: str) -> dict[int, int]:
    """pid -> index in the output of the first line of that process containing ``fragment``."""
    found: dict[int, int] = {}
    for index, line in enumerate(process.output.splitlines()):
        if fragment in line and "] django_lifespan_di:" in line:
            pid = int(line.split("[", 1)[1].split("]", 1)[0])
            found.setdefault(pid, index)
    return found


def assert_every_started_resource_was_stopped(process: ServerProcess) -> None:
    """Each resource a process started, it also stopped, once."""
    lifecycle = process.lifecycle()
    for (pid, action, name), count in lifecycle.items():
        if action == "started":
            assert lifecycle[pid, "stopped", name] == count, (pid, name, process.output)


def assert_nothing_leaked(process: ServerProcess) -> None:
    """No unclosed session or connector, no destroyed pending task, no resource still open."""
    assert process.leaks() == [], process.output
    assert set(process.exit_reports().values()) <= {"none"}, process.output


def server_warnings(process: ServerProcess) -> int:
    """ResourceWarnings about the server's own objects (its listening socket, its files)."""
    return sum(
        "ResourceWarning: unclosed" in line and line.rstrip() not in process.leaks()
        for line in process.output.splitlines()
    )


STARTUP_FAILURE_SERVERS = LIFESPAN_SERVERS
STARTUP_FAILURE_DEADLINE = 15.0
"""Seconds a server gets to exit after a failed startup."""


@pytest.mark.parametrize("server", STARTUP_FAILURE_SERVERS, ids=lambda server: server.name)
def test_a_resource_that_fails_to_start_fails_the_startup_and_closes_the_others(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """A failing start is reported naming the resource, after the others were closed."""
    # The server then exits without serving, with the exit code it chooses (Hypercorn: 0).
    with serve(server, upstream.url, INTEGRATION_CASE="startup-raises") as process:
        code = process.wait(STARTUP_FAILURE_DEADLINE)

    failed = failure_lines(process, "lifespan startup failed: resource 'ledger' failed to start")
    record(
        server=server.name,
        fault="startup raises",
        exit_code=code,
        workers_failed=len(failed),
        server_resource_warnings=server_warnings(process),
    )
    assert "ConnectionRefusedError: ledger.invalid:443 refused the connection" in process.output
    assert failed, process.output
    lifecycle = process.lifecycle()
    output = process.output.splitlines()
    for pid, index in failed.items():
        # ledger needs http_session, which needs upstream: both were up, and closed first.
        for name in ("upstream", "http_session"):
            assert lifecycle[pid, "started", name] == 1, (pid, name, process.output)
            stopped = f"[{pid}] django_lifespan_di: stopped {name} in "
            assert any(stopped in line for line in output[:index]), (pid, name, process.output)
    assert_every_started_resource_was_stopped(process)
    assert_nothing_leaked(process)
    assert code in server.startup_failure_exits, process.output
    assert upstream.calls() == []


def test_a_resource_that_hangs_at_startup_fails_it_within_the_timeout(
    upstream: Upstream, record: Callable[..., None]
) -> None:
    """A start that never ends fails the startup at STARTUP_TIMEOUT; uvicorn exits non-zero."""
    began = time.monotonic()
    with serve(
        UVICORN,
        upstream.url,
        INTEGRATION_CASE="startup-hangs",
        INTEGRATION_STARTUP_TIMEOUT=str(TIMEOUT),
    ) as process:
        code = process.wait(TIMEOUT + MARGIN)
    took = time.monotonic() - began

    record(server=UVICORN.name, fault="startup hangs", exit_code=code, seconds=round(took, 1))
    assert "resource 'search_index' did not start within 2 s (STARTUP_TIMEOUT)" in process.output
    assert "Application startup failed. Exiting." in process.output
    assert code == 3, process.output
    assert took < TIMEOUT + MARGIN
    assert_every_started_resource_was_stopped(process)
    for name in ("upstream", "http_session"):
        assert process.lifecycle()[process.process.pid, "stopped", name] == 1, process.output
    assert_nothing_leaked(process)


@pytest.mark.parametrize(
    ("case", "resource", "logged"),
    [
        ("shutdown-raises", "metrics", "resource metrics failed to stop after"),
        ("shutdown-hangs", "audit", "resource audit did not stop within 2 s (SHUTDOWN_TIMEOUT)"),
    ],
    ids=["raises", "hangs"],
)
def test_a_resource_that_fails_to_stop_does_not_keep_the_others_open(
    upstream: Upstream, record: Callable[..., None], case: str, resource: str, logged: str
) -> None:
    """A stop that raises or hangs is skipped; the others still close; uvicorn still exits."""
    with serve(
        UVICORN, upstream.url, INTEGRATION_CASE=case, INTEGRATION_SHUTDOWN_TIMEOUT=str(TIMEOUT)
    ) as process:
        process.wait_ready()
        status, _ = fetch(process.url, "/api/weather?city=Oslo")
        began = time.monotonic()
        process.stop(signal.SIGTERM)
        code = process.wait(TIMEOUT + MARGIN)
        took = time.monotonic() - began

    record(server=UVICORN.name, fault=case, exit_code=code, stop_s=round(took, 1))
    assert status == 200
    assert logged in process.output, process.output
    assert f"failed to stop: {resource}" in process.output, process.output
    pid = process.process.pid
    for name in RESOURCES:
        assert process.lifecycle()[pid, "stopped", name] == 1, (name, process.output)
    assert process.lifecycle()[pid, "stopped", resource] == 0
    # uvicorn reports lifespan.shutdown.failed and ends as on any SIGTERM.
    assert "Application shutdown failed. Exiting." in process.output, process.output
    assert code == UVICORN.sigterm_exit, process.output
    assert took < TIMEOUT + MARGIN
    assert_nothing_leaked(process)


def test_an_upstream_that_is_down_is_a_502_and_the_session_survives_it(
    upstream: Upstream, record: Callable[..., None]
) -> None:
    """Upstream down: 502 (the demo's choice); the same session serves again once it is back."""
    with serve(UVICORN, upstream.url) as process:
        process.wait_ready()
        before = fetch(process.url, "/integration/whoami")
        upstream.go_down()
        down = run_load(
            process.url, [f"/api/weather?city=down-{i}" for i in range(50)], concurrency=10
        )
        status, body = fetch(process.url, "/api/weather?city=down")
        upstream.come_back()
        back = run_load(
            process.url, [f"/api/weather?city=back-{i}" for i in range(50)], concurrency=10
        )
        after = fetch(process.url, "/integration/whoami")
        process.stop(signal.SIGTERM)
        code = process.wait()

    record(
        server=UVICORN.name,
        fault="upstream down, then back",
        while_down=dict(down.statuses),
        once_back=dict(back.statuses),
        exit_code=code,
    )
    assert down.statuses == {502: 50}, down.errors[:5]
    assert (status, body) == (
        502,
        {
            "error": "bad_gateway",
            "detail": "the weather service could not be used (ClientConnectorError)",
            "status": 502,
        },
    )
    assert back.statuses == {200: 50}, back.errors[:5]
    assert before[1]["session"] == after[1]["session"]
    assert process.lifecycle()[process.process.pid, "started", "http_session"] == 1
    assert process.problems() == [], process.output
    assert code == UVICORN.sigterm_exit


def test_a_slow_upstream_is_a_504_and_the_session_survives_it(
    upstream: Upstream, record: Callable[..., None]
) -> None:
    """Upstream slower than DEMO_HTTP_TIMEOUT: 504 then; the same session serves once it is fast."""
    with serve(UVICORN, upstream.url, DEMO_HTTP_TIMEOUT="1") as process:
        process.wait_ready()
        before = fetch(process.url, "/integration/whoami")
        upstream.delay = 3.0
        began = time.monotonic()
        slow = run_load(
            process.url, [f"/api/weather?city=slow-{i}" for i in range(20)], concurrency=20
        )
        took = time.monotonic() - began
        status, body = fetch(process.url, "/api/weather?city=slow")
        upstream.delay = 0.0
        fast = run_load(
            process.url, [f"/api/weather?city=fast-{i}" for i in range(50)], concurrency=10
        )
        after = fetch(process.url, "/integration/whoami")
        process.stop(signal.SIGTERM)
        code = process.wait()

    record(
        server=UVICORN.name,
        fault="upstream slow, then fast",
        while_slow=dict(slow.statuses),
        once_fast=dict(fast.statuses),
        slow_s=round(took, 1),
        exit_code=code,
    )
    assert slow.statuses == {504: 20}, slow.errors[:5]
    assert took < 3.0, "each 504 comes after DEMO_HTTP_TIMEOUT (1 s), not the upstream's 3 s"
    assert (status, body) == (
        504,
        {
            "error": "gateway_timeout",
            "detail": "the weather service did not answer within 1 s",
            "status": 504,
        },
    )
    assert fast.statuses == {200: 50}, fast.errors[:5]
    assert before[1]["session"] == after[1]["session"]
    assert process.problems() == [], process.output
    assert code == UVICORN.sigterm_exit


@pytest.mark.parametrize("server", NO_LIFESPAN_SERVERS, ids=lambda server: server.name)
def test_a_cold_start_stampede_without_lifespan_creates_one_session(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """500 concurrent first requests, some leaving early: one session, the rest all succeed."""
    # The resource they need takes 1 s to start (INTEGRATION_WARMUP); one client in ten
    # disconnects after 0.3 s, while it starts. At exit, everything created is closed.
    with serve(server, upstream.url, INTEGRATION_CASE="stampede") as process:
        process.wait_ready()  # /health answers 503: nothing is created before first use
        outcomes = run_stampede(
            f"{process.url}/integration/search?city=Oslo",
            count=500,
            impatient_every=10,
            patience=0.3,
        )
        process.stop(signal.SIGINT, group=True)  # Ctrl-C: both exit 0 and report at exit
        code = process.wait()

    kinds = Counter(outcome.kind for outcome in outcomes)
    answered = [outcome for outcome in outcomes if outcome.kind == "answered"]
    sessions = {outcome.body["session"] for outcome in answered if outcome.status == 200}
    clients = {outcome.body["client"] for outcome in answered if outcome.status == 200}
    created = process.created()
    record(
        server=server.name,
        fault="cold-start stampede",
        outcomes=dict(kinds),
        statuses=dict(Counter(outcome.status for outcome in answered)),
        sessions=len(sessions),
        clients=len(clients),
        created=dict(Counter(name for _, name in created.elements())),
        exit_code=code,
    )
    assert kinds == {"answered": 450, "gave_up": 50}, [o for o in outcomes if o.kind == "failed"]
    assert {outcome.status for outcome in answered} == {200}
    assert (len(sessions), len(clients)) == (1, 1)
    (pid,) = {pid for pid, _ in created}
    assert created == {(pid, "upstream"): 1, (pid, "http_session"): 1, (pid, "search"): 1}
    assert process.exit_reports() == {pid: "none"}, process.output
    assert process.problems() == [], process.output
    assert code == 0


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_sigterm_lets_in_flight_requests_finish_or_fail_cleanly(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """SIGTERM with 16 requests in flight: each finishes or fails cleanly, then shutdown."""
    with serve(server, upstream.url) as process, ThreadPoolExecutor(1) as background:
        process.wait_ready()
        upstream.delay = 1.5
        load = background.submit(
            run_load,
            process.url,
            [f"/api/weather?city=inflight-{i}" for i in range(16)],
            concurrency=16,
            deadline=DEADLINE,
        )
        upstream.wait_for_in_flight(16)
        process.stop(signal.SIGTERM)
        result = load.result(DEADLINE)
        code = process.wait()

    record(
        server=server.name,
        fault="SIGTERM with 16 requests in flight",
        statuses=dict(result.statuses),
        failures=dict(result.error_kinds()),
        exit_code=code,
    )
    assert result.requests == 16
    # Clean failures: the server's error answer, or the connection closed or reset without an
    # answer (aiohttp retries an idempotent request once on a disconnect, and then finds the
    # port closed: ClientConnectorError).
    assert set(result.statuses) <= {200, 502, 503}, result.errors
    assert set(result.error_kinds()) <= {
        "502",
        "503",
        "ServerDisconnectedError",
        "ClientOSError",
        "ClientConnectorError",
    }, result.errors
    if server.sends_lifespan:
        assert result.statuses == {200: 16}, result.errors
        assert_every_started_resource_was_stopped(process)
        assert process.workers("stopped"), process.output
    assert_nothing_leaked(process)
    assert "Traceback" not in process.output, process.output
    assert code == server.sigterm_exit, process.output
