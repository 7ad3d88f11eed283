"""The run-mode conformance matrix, with real server processes: each injection style x each
server (uvicorn with lifespan on, auto and off, Hypercorn, granian, daphne, ``manage.py
runserver``).

One process per server serves the conformance project (``tests/conformance``) to every style:
each style's URL is asked twice, then the server gets SIGTERM. A cell (``<style> x <server>``)
checks what its view answered (``tests/conformance/matrix.py``), that every instance of the
session resource behind it was closed by the time the process exited, one per event loop
(one in all under lifespan), and that the output names none of its instances in a warning.
``process x <server>``: the exit code, and an output free of tracebacks and warnings.
Warnings are errors in the servers (``-W error::ResourceWarning -W error::DeprecationWarning``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conformance.matrix import STYLES, Answer, Style, check_answer, check_instances
from tests.integration.servers import APP, REPO_ROOT, Server, server_named
from tests.processes import DEADLINE, ChildProcess
from tests.upstream import Upstream

CONFORMANCE_APP = "tests.conformance.asgi:application"
RESOURCES = ("http_session", "bare_session", "httpx_client")
"""The session resources of the conformance container (a lifespan startup opens both)."""
REQUESTS = 2
"""Requests per style: under runserver the second runs on a new loop."""


def _serving_conformance(name: str) -> Server:
    server = server_named(name)
    return dataclasses.replace(
        server, args=tuple(CONFORMANCE_APP if arg == APP else arg for arg in server.args)
    )


MODES = {
    "uvicorn-lifespan-on": _serving_conformance("uvicorn"),
    "uvicorn-lifespan-auto": _serving_conformance("uvicorn-lifespan-auto"),
    "uvicorn-lifespan-off": _serving_conformance("uvicorn-lifespan-off"),
    "hypercorn": _serving_conformance("hypercorn"),
    "granian": _serving_conformance("granian"),
    "daphne": _serving_conformance("daphne"),
    # The real command, through the project's manage.py: a new event loop per async view call.
    "runserver": Server(
        "runserver",
        "tests.conformance.manage",
        ("runserver", "--noreload", "127.0.0.1:0"),
        sends_lifespan=False,
        sigterm_exit=-signal.SIGTERM,  # it leaves SIGTERM to Python's default: killed
        startup_failure_exits=(),
    ),
}

# uvicorn re-raises the SIGTERM it caught once it has stopped serving, while its loop still
# runs: Python's default action kills the process before asyncio.run's clean-up, so with
# --lifespan off (no shutdown event at all) nothing can close the server loop's instances
# (docs/servers.md). Stopped with Ctrl-C (SIGINT) instead, asyncio.run closes them.
STOP = {"uvicorn-lifespan-off": (signal.SIGINT, 0)}
"""Modes stopped otherwise than with SIGTERM: (signal, expected exit code)."""

PROBLEMS = re.compile(
    r"Traceback|Unclosed client session|Unclosed connector|never awaited|Task was destroyed"
    r"|Exception ignored|Warning:|could not close|unclosed"
)
"""What must not appear in a server's output."""


@dataclass
class ServerRun:
    """What one server process did, from start to exit."""

    server: Server
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    output: str = ""

    def problems(self) -> list[str]:
        return [line for line in self.output.splitlines() if PROBLEMS.search(line)]


def server_environment(upstream: Upstream, events: Path) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CONFORMANCE_", "PYTHONDEVMODE", "PYTHONWARNINGS"))
        and key != "DJANGO_SETTINGS_MODULE"
    }
    environ.update(
        # The caller's own path stays after the repository (to serve another build of the
        # package, put it there).
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        DJANGO_SETTINGS_MODULE="tests.conformance.settings",
        CONFORMANCE_UPSTREAM_URL=f"http://127.0.0.1:{upstream.port}",
        CONFORMANCE_EVENTS=str(events),
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="error::ResourceWarning,error::DeprecationWarning",
    )
    return environ


def ask(url: str) -> Answer:
    """GET ``url``; the view's JSON answer (a 500 answers ``{"error": ...}``)."""
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return json.loads(body)  # type: ignore[no-any-return]
        except ValueError:
            return {"error": f"HTTP {exc.code}: {body[:500]!r}"}


def listening_port(process: ChildProcess) -> int:
    """The port the process tree listens on (0: none yet); granian logs port 0 as given."""
    try:
        root = psutil.Process(process.process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    ports: set[int] = set()
    for member in tree:
        with suppress(psutil.Error):
            ports.update(
                connection.laddr.port
                for connection in member.net_connections(kind="tcp")
                if connection.status == psutil.CONN_LISTEN
            )
    assert len(ports) <= 1, f"{process.name} listens on several ports: {ports}"
    return ports.pop() if ports else 0


def wait_ready(process: ChildProcess, server: Server, events: Path) -> str:
    """Poll (bounded) until the server listens, answers /health and, under lifespan, its
    startup opened the session resources; its base URL."""
    deadline = time.monotonic() + DEADLINE
    port = 0
    while True:
        assert process.process.poll() is None, (
            f"{server.name} exited ({process.process.returncode}):\n{process.output}"
        )
        port = port or listening_port(process)
        started = not server.sends_lifespan or (
            events.exists() and events.read_text().count('"opened"') >= len(RESOURCES)
        )
        if port and started and answers_health(f"http://127.0.0.1:{port}"):
            return f"http://127.0.0.1:{port}"
        assert time.monotonic() < deadline, (
            f"{server.name} was not ready within {DEADLINE} s:\n{process.output}"
        )
        time.sleep(0.05)


def answers_health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def serve_every_style(server: Server, upstream: Upstream, workdir: Path) -> ServerRun:
    """Start ``server``, ask every style's URL, stop it (SIGTERM, or as STOP says), collect
    what it did."""
    server.require()
    events = workdir / f"{server.name}-events.jsonl"
    run = ServerRun(server)
    process = ChildProcess(
        server.name, server.command(), env=server_environment(upstream, events), cwd=REPO_ROOT
    )
    try:
        url = wait_ready(process, server, events)
        for style in STYLES:
            run.answers[style.name] = [ask(f"{url}{style.path}") for _ in range(REQUESTS)]
        process.stop(STOP.get(server.name, (signal.SIGTERM, 0))[0])
        run.returncode = process.wait()
    finally:
        process.kill()
        run.output = process.output
    if events.exists():
        run.events = [json.loads(line) for line in events.read_text().splitlines()]
    return run


@pytest.fixture(name="server_run", scope="module")
def fixture_server_run(
    upstream_server: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], ServerRun]:
    """``server_run(mode)``: that server's one run for every style, made on first use."""
    workdir = tmp_path_factory.mktemp("conformance")
    runs: dict[str, ServerRun | BaseException] = {}

    def server_run(mode: str) -> ServerRun:
        if mode not in runs:
            try:
                runs[mode] = serve_every_style(MODES[mode], upstream_server, workdir)
            except Exception as exc:  # every cell of this server reports the same failure
                runs[mode] = exc
        run = runs[mode]
        if isinstance(run, BaseException):
            raise run
        return run

    return server_run


CELLS = [pytest.param(style, mode, id=f"{style} x {mode}") for mode in MODES for style in STYLES]


@pytest.mark.parametrize(("style", "mode"), CELLS)
def test_server_cell(style: Style, mode: str, server_run: Callable[[str], ServerRun]) -> None:
    """The right object on each request; its resource's instances closed by exit, one per loop."""
    run = server_run(mode)
    answers = run.answers[style.name]
    context = f"\n--- {mode} output ---\n{run.output}"
    for answer in answers:
        check_answer(style, answer)
    if style.resource is None:
        return
    check_instances(
        run.events,
        [style.resource],
        answers=[(style, answer) for answer in answers],
        lifespan=run.server.sends_lifespan,
    )
    ids = {
        f"{event['id']:#x}"
        for event in run.events
        if event["resource"] == style.resource and event["event"] == "opened"
    }
    about_ours = [line for line in run.problems() if any(id_ in line for id_ in ids)]
    assert not about_ours, f"{style} x {mode}: {about_ours}{context}"


@pytest.mark.parametrize("mode", [pytest.param(mode, id=f"process x {mode}") for mode in MODES])
def test_server_process(mode: str, server_run: Callable[[str], ServerRun]) -> None:
    """The server exited as it does after a clean stop, with nothing wrong in its output."""
    run = server_run(mode)
    expected = STOP[mode][1] if mode in STOP else run.server.sigterm_exit
    assert run.returncode == expected, (
        f"{mode} exited {run.returncode}, expected {expected}:\n{run.output}"
    )
    assert not run.problems(), f"{mode}: {run.problems()}\n--- output ---\n{run.output}"
    assert run.events, f"{mode}: no instance was ever opened:\n{run.output}"
