"""A Redis server and Celery workers of the docs' ``jobs`` example, as real processes."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import DEADLINE, ChildProcess

EXAMPLES = Path(__file__).parent.parent.parent / "docs" / "examples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_redis() -> Iterator[str]:
    """A throw-away redis-server on 127.0.0.1 and a free port; its URL. Stopped by its PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server not found: apt-get install -y redis-server"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (.ci/run installs it)")  # CI must not skip the workers
        pytest.skip(message)
    import redis

    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = ChildProcess("redis-server", command, env=dict(os.environ), cwd=EXAMPLES)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.process.poll() is not None:
                    raise AssertionError(f"redis-server did not answer:\n{server.output}") from None
                server.wait_for_output(lambda _: False, 0.05)  # a bounded pause between polls
        client.close()
        yield url
    finally:
        server.stop()
        server.wait()
        server.kill()


def start_worker(pool: str, broker: str, weather_url: str, concurrency: int = 2) -> ChildProcess:
    """``celery -A jobs worker`` of the docs' example with ``pool``; not yet ready."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PYTHONPATH": str(EXAMPLES),
        "CELERY_BROKER_URL": broker,
        "WEATHER_URL": weather_url,
        # Not the suite's "error": Celery's own warnings (its Redis transport) are not ours.
        "PYTHONWARNINGS": "error::ResourceWarning",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "jobs", "worker", "--pool", pool,
        "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-heartbeat",
        "--without-gossip", "--without-mingle", "-n", f"{pool}@%h",
    ]  # fmt: skip
    return ChildProcess(f"celery {pool}", command, env=env, cwd=EXAMPLES)
