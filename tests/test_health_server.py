"""Under a real uvicorn: readiness, the httpx client under load, and SIGTERM's order."""

from __future__ import annotations

import json
import re
import signal
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.processes import DEADLINE
from tests.test_server import uvicorn, wait_for_port
from tests.upstream import Upstream

pytestmark = pytest.mark.server

REQUESTS = 100
CONCURRENCY = 8
SHUTDOWN_PROBE = re.compile(
    r"readiness during shutdown: (\d+) (\{.*\}) \(session closed: (\w+), "
    r"client closed: (\w+)\)"
)


def get(url: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_readiness_turns_503_before_the_first_resource_closes_on_sigterm(
    upstream: Upstream, tmp_path: Path
) -> None:
    """Ready (200) while serving, one httpx client for all requests; after SIGTERM readiness is
    503 'stopping' while both clients are still open, and they close only after that."""
    gate = tmp_path / "gate"
    with uvicorn(upstream, LIFESPAN_DI_CASE="health-gate", LIFESPAN_DI_GATE=str(gate)) as server:
        base = f"http://127.0.0.1:{wait_for_port(server)}"
        ready = get(f"{base}/health/ready")
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            answers = list(pool.map(get, [f"{base}/proxy-httpx"] * REQUESTS))

        server.stop(signal.SIGTERM)
        seen = server.wait_for_output(lambda out: SHUTDOWN_PROBE.search(out) is not None, DEADLINE)
        before_gate = server.stderr
        try:
            probe_after_sigterm: object = get(f"{base}/health/ready")[0]
        except urllib.error.URLError as refused:
            probe_after_sigterm = refused.reason
        gate.touch()
        code = server.wait()
        stderr = server.stderr

    assert ready[0] == 200, ready
    assert ready[1]["phase"] == "ready"
    assert {name: each["status"] for name, each in ready[1]["resources"].items()} == {
        "http_session": "up",
        "httpx_client": "up",
        "gate": "up",
    }
    assert ready[1]["resources"]["httpx_client"]["pool"]["limit"] == 100
    assert [status for status, _ in answers] == [200] * REQUESTS
    assert len({body["client"] for _, body in answers}) == 1
    assert 1 <= len(upstream.connections) <= CONCURRENCY

    assert seen, stderr
    match = SHUTDOWN_PROBE.search(before_gate)
    assert match is not None
    assert (match.group(1), json.loads(match.group(2))) == (
        "503",
        {"ready": False, "phase": "stopping", "resources": {}},
    )
    assert (match.group(3), match.group(4)) == ("False", "False")
    assert "stopped http_session" not in before_gate
    assert "stopped httpx_client" not in before_gate
    # uvicorn stops accepting at SIGTERM, before lifespan.shutdown: a new probe is refused
    # (a server still accepting would answer 503).
    assert probe_after_sigterm == 503 or isinstance(probe_after_sigterm, ConnectionError), (
        probe_after_sigterm
    )

    assert code in (0, -signal.SIGTERM), stderr
    assert "gate opened: True" in stderr
    probe_at = stderr.index("readiness during shutdown")
    assert probe_at < stderr.index("stopped gate") < stderr.index("stopped http_session")
    assert stderr.index("stopped gate") < stderr.index("stopped httpx_client")
    assert "Application shutdown complete." in stderr
    assert "Unclosed" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
