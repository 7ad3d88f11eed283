"""Request-scoped providers under a real uvicorn process: the clean-up after a normal, a
streaming and an error response, and after a client disconnect."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest

from tests.processes import DEADLINE, ChildProcess
from tests.test_server import REPO_ROOT, wait_for_port
from tests.upstream import Upstream

pytestmark = pytest.mark.server


@pytest.fixture(name="server")
def fixture_server(upstream: Upstream, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """uvicorn serving the request-scope project (lifespan on); its port and events file."""
    events = tmp_path / "events.jsonl"
    environ = {key: value for key, value in os.environ.items() if key != "LIFESPAN_DI_CASE"}
    environ.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        DJANGO_SETTINGS_MODULE="tests.request_scope_project.settings",
        UPSTREAM_URL=upstream.url,
        REQUEST_SCOPE_EVENTS=str(events),
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.request_scope_project.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--lifespan",
        "on",
    ]
    process = ChildProcess("uvicorn", command, env=environ, cwd=REPO_ROOT)
    try:
        yield wait_for_port(process), events
    finally:
        upstream.release()
        process.kill()


def read_events(path: Path) -> list[tuple[str, str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(row["event"], row["name"], row.get("error")) for row in rows]


def wait_for_events(path: Path, count: int) -> list[tuple[str, str, Any]]:
    """The events once there are ``count`` of them (fail after DEADLINE seconds)."""
    deadline = time.monotonic() + DEADLINE
    while len(found := read_events(path)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} events within {DEADLINE} s, got {found}")
        time.sleep(0.01)
    return found


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=DEADLINE) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_uvicorn_closes_request_instances_after_each_kind_of_response(
    server: tuple[int, Path],
) -> None:
    """Normal, streaming (after the last chunk) and error responses each close their instance."""
    port, events = server
    assert get(port, "/unused")[0] == 200
    assert get(port, "/plain")[0] == 200
    assert wait_for_events(events, 2) == [("opened", "first", None), ("closed", "first", None)]
    status, body = get(port, "/stream")
    assert (status, body) == (200, b"chunk 0\nchunk 1\nchunk 2\n")
    assert wait_for_events(events, 7)[2:] == [
        ("opened", "first", None),
        ("chunk", "first", None),
        ("chunk", "first", None),
        ("chunk", "first", None),
        ("closed", "first", None),
    ]
    assert get(port, "/error")[0] == 500
    assert wait_for_events(events, 9)[7:] == [
        ("opened", "first", None),
        ("closed", "first", "ValueError"),
    ]


# Django cancels the view on a client disconnect from 5.0 on; before, the view runs on.
@pytest.mark.skipif(
    django.VERSION < (5, 0), reason="Django < 5.0 does not listen for a client disconnect"
)
def test_uvicorn_closes_request_instances_after_a_client_disconnect(
    server: tuple[int, Path], upstream: Upstream
) -> None:
    """A client that goes away mid-request: Django cancels the view, the clean-up runs."""
    port, events = server
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
        client.sendall(b"GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert wait_for_events(events, 2) == [
            ("opened", "first", None),
            ("holding", "first", None),
        ]
    assert wait_for_events(events, 3)[2] == ("closed", "first", "CancelledError")
