"""A real uvicorn process serving the test project: startup, load, graceful stop, failed startup."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.processes import DEADLINE, ChildProcess
from tests.upstream import Upstream

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 200
CONCURRENCY = 16
POOL_LIMIT = 100
"""The connection pool bound of ``client_session`` (its default ``limit``)."""
RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
FAILURE = (
    "resource 'payments_client' failed to start after",
    "ConnectionRefusedError: payments.invalid:443 refused the connection",
)


def wait_for_port(server: ChildProcess) -> int:
    """The port uvicorn listens on, once it says it is running (bounded wait)."""
    if not server.wait_for_output(lambda out: RUNNING.search(out) is not None, DEADLINE):
        raise AssertionError(
            f"uvicorn was not ready within {DEADLINE} s "
            f"(exit code {server.process.poll()}):\n{server.stderr}"
        )
    match = RUNNING.search(server.output)
    assert match is not None
    return int(match.group(1))


@contextmanager
def uvicorn(upstream: Upstream, lifespan: str = "on", **env: str) -> Iterator[ChildProcess]:
    """Run uvicorn on a free port of 127.0.0.1 with the server project; kill it at the end."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"LIFESPAN_DI_CASE", "LIFESPAN_DI_LOGGING", "DISABLE_EXISTING_LOGGERS"}
    }
    environ.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        DJANGO_SETTINGS_MODULE="tests.server_project.settings",
        UPSTREAM_URL=upstream.url,
        PYTHONUNBUFFERED="1",
        **env,
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.server_project.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--lifespan",
        lifespan,
    ]
    server = ChildProcess("uvicorn", command, env=environ, cwd=REPO_ROOT)
    try:
        yield server
    finally:
        server.kill()


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=DEADLINE) as response:
        return response.status, json.loads(response.read())


def test_serves_with_one_session_and_stops_cleanly(upstream: Upstream) -> None:
    """Under concurrent load every request shares one session; SIGTERM closes it cleanly."""
    with uvicorn(upstream) as server:
        port = wait_for_port(server)
        url = f"http://127.0.0.1:{port}/proxy"
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            results = list(pool.map(get_json, [url] * REQUESTS))

        assert [status for status, _ in results] == [200] * REQUESTS
        sessions = {body["session"] for _, body in results}
        assert len(sessions) == 1, sessions
        assert len(upstream.requests) == REQUESTS
        assert 1 <= len(upstream.connections) <= min(POOL_LIMIT, CONCURRENCY)

        began = time.monotonic()
        server.stop(signal.SIGTERM)
        code = server.wait()
        stderr = server.stderr

    # uvicorn >= 0.29 re-raises the signal it caught once it has shut down cleanly, so the
    # process ends "killed by SIGTERM" instead of exiting 0; older versions exit 0.
    assert code in (0, -signal.SIGTERM), stderr
    assert time.monotonic() - began < DEADLINE
    assert "Application shutdown complete." in stderr, stderr
    assert "Finished server process" in stderr, stderr
    assert stderr.count("started http_session") == 1, stderr
    assert stderr.count("stopped http_session") == 1, stderr
    assert stderr.index("started http_session") < stderr.index("stopped http_session")
    assert "Unclosed" not in stderr, stderr
    assert "Traceback" not in stderr, stderr


def test_failing_resource_stops_the_server_and_closes_what_started(upstream: Upstream) -> None:
    """A resource that fails to start makes uvicorn exit non-zero, after closing the others."""
    with uvicorn(upstream, LIFESPAN_DI_CASE="failing-resource") as server:
        code = server.wait()
        stderr = server.stderr

    assert code != 0, stderr
    for fragment in FAILURE:
        assert fragment in stderr, stderr
    assert stderr.count("started http_session") == 1, stderr
    assert stderr.count("stopped http_session") == 1, stderr
    assert stderr.index("stopped http_session") < stderr.index(FAILURE[0])
    assert "Application startup failed. Exiting." in stderr
    assert "Unclosed" not in stderr, stderr
    assert "Uvicorn running on" not in stderr, stderr
    assert upstream.requests == []


@pytest.mark.parametrize("lifespan", ["on", "auto"])
def test_a_resource_raising_cancelled_error_fails_the_startup_under_lifespan_auto_too(
    upstream: Upstream, lifespan: str
) -> None:
    """An initializer ending in CancelledError is a failed startup, reported to uvicorn: even
    under ``--lifespan auto`` it does not conclude "lifespan unsupported" and serve without it."""
    with uvicorn(upstream, lifespan, LIFESPAN_DI_CASE="cancelled-resource") as server:
        code = server.wait()
        stderr = server.stderr

    assert code != 0, stderr
    assert "resource 'payments_client' failed to start" in stderr, stderr
    assert "CancelledError" in stderr, stderr
    assert "Application startup failed. Exiting." in stderr, stderr
    assert "appears unsupported" not in stderr, stderr
    assert "Uvicorn running on" not in stderr, stderr
    assert stderr.count("stopped http_session") == 1, stderr
    assert "Unclosed" not in stderr, stderr


@pytest.mark.parametrize(
    "logging_env",
    [
        pytest.param({"DISABLE_EXISTING_LOGGERS": "1"}, id="project-logging-disables-existing"),
        pytest.param({"LIFESPAN_DI_LOGGING": "bare"}, id="logging-names-none-of-our-loggers"),
    ],
)
def test_failed_startup_reaches_stderr_despite_disabled_loggers(
    upstream: Upstream, logging_env: dict[str, str]
) -> None:
    """A project LOGGING with disable_existing_loggers=True does not hide a failed startup."""
    with uvicorn(upstream, LIFESPAN_DI_CASE="failing-resource", **logging_env) as server:
        code = server.wait()
        stderr = server.stderr

    assert code != 0, stderr
    for fragment in FAILURE:
        assert fragment in stderr, stderr
    assert "Unclosed" not in stderr, stderr
