"""The ASGI servers of the suite, and a server process the tests start, watch and stop.

Each server serves the demo project (``tests.integration.project.asgi``) on 127.0.0.1, port 0:
the port is read from the LISTEN socket of the server's process tree (granian, for one, logs
port 0 as it was given), and readiness is polled, with a deadline. The process runs in a
process group of its own, so a test can send a signal to the server alone (``kill``, as an
orchestrator does) or to the whole group (Ctrl-C in a terminal).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.processes import DEADLINE, ChildProcess

__all__ = [
    "DEADLINE",
    "RESOURCES",
    "SERVERS",
    "Server",
    "ServerProcess",
    "serve",
    "server_named",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_ROOT = REPO_ROOT / "examples" / "demo"
APP = "tests.integration.project.asgi:application"
RESOURCES = ("upstream", "http_session", "cache")
"""The demo container's resources."""
LIFECYCLE = re.compile(r"\[(\d+)\] django_lifespan_di: (started|stopped) (\S+) in ")
# Without lifespan, instances are created on first use; the debug line names the provider.
CREATED = re.compile(r"\[(\d+)\] django_lifespan_di: created '([\w.]+)' for event loop ")
EXIT_REPORT = re.compile(r"integration-exit \[(\d+)\] open resources: (.*)")
# What must never appear in a server's output after a clean run.
PROBLEMS = re.compile(
    r"Traceback|Unclosed client session|Unclosed connector|Task was destroyed"
    r"|Warning:|Exception ignored|could not close|Error|CRITICAL"
)
# What shows that the application left something open: an aiohttp session or connector, a
# pending task, a connected socket, a resource the library could not close. (After a failed
# boot, gunicorn leaves its own listening socket and worker file to the exit: not ours.)
LEAKS = re.compile(
    r"Unclosed client session|Unclosed connector|Task was destroyed|could not close"
    r"|unclosed <socket\.socket .*raddr=|unclosed transport"
)


@dataclass(frozen=True)
class Server:
    """How to run one server, and what it was observed to do (the docs' table)."""

    name: str
    module: str
    """The package to import to run it (``python -m <module>``)."""
    args: tuple[str, ...]
    sends_lifespan: bool
    workers: int = 1
    sigterm_exit: int = 0
    """Exit code after a clean stop on SIGTERM."""
    startup_failure_exits: tuple[int, ...] = (3,)
    """Exit codes seen after ``lifespan.startup.failed`` (none: not a lifespan server)."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]

    def require(self) -> None:
        """Fail (or skip, for a worker the installed gunicorn lacks) unless it can run."""
        if importlib.util.find_spec(self.module) is None:
            pytest.fail(
                f"{self.name}: {self.module} is not installed; the `integration` nox session "
                "installs every server (see the `integration` session of noxfile.py)."
            )
        gunicorn_asgi = self.module == "gunicorn" and "asgi" in self.args
        if gunicorn_asgi and importlib.util.find_spec("gunicorn.workers.gasgi") is None:
            import gunicorn

            # The one case that is a skip: that gunicorn genuinely has no such worker.
            pytest.skip(f"gunicorn {gunicorn.__version__} has no `-k asgi` worker")
        if "uvicorn_worker.UvicornWorker" in self.args and not importlib.util.find_spec(
            "uvicorn_worker"
        ):
            pytest.fail(f"{self.name}: uvicorn-worker is not installed")


def _gunicorn(worker: str) -> tuple[str, ...]:
    # gunicorn >= 27 opens a control socket under ~/.gunicorn by default: not for a test run.
    control = ("--no-control-socket",) if _gunicorn_has_control_socket() else ()
    return (
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "2",
        "--worker-class",
        worker,
        "--graceful-timeout",
        "20",
        *control,
        APP,
    )


def _gunicorn_has_control_socket() -> bool:
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return False
    return any("--no-control-socket" in (setting.cli or ()) for setting in KNOWN_SETTINGS)


# The master exits 3 ("Worker failed to boot"); when both workers fail at once, it can raise
# HaltServer again while halting, and exit 1 with that traceback (gunicorn's own race).
GUNICORN_BOOT_FAILURE = (3, 1)

SERVERS = (
    Server(
        "uvicorn",
        "uvicorn",
        (APP, "--host", "127.0.0.1", "--port", "0", "--lifespan", "on", "--no-access-log"),
        sends_lifespan=True,
        # uvicorn (>= 0.29) re-raises the signal it stopped on once it has shut down cleanly.
        sigterm_exit=-signal.SIGTERM,
    ),
    Server(
        "uvicorn-lifespan-auto",
        "uvicorn",
        (APP, "--host", "127.0.0.1", "--port", "0", "--lifespan", "auto", "--no-access-log"),
        sends_lifespan=True,
        sigterm_exit=-signal.SIGTERM,
    ),
    Server(
        "hypercorn",
        "hypercorn",
        ("--bind", "127.0.0.1:0", APP),
        sends_lifespan=True,
        # Hypercorn exits 0 after lifespan.startup.failed (it learns of it through the
        # error it raises in send(), which the app lets through).
        startup_failure_exits=(0,),
    ),
    Server(
        "granian",
        "granian",
        ("--interface", "asgi", "--host", "127.0.0.1", "--port", "0", APP),
        sends_lifespan=True,
        startup_failure_exits=(1,),
    ),
    Server(
        "gunicorn-uvicorn-worker",
        "gunicorn",
        _gunicorn("uvicorn_worker.UvicornWorker"),
        sends_lifespan=True,
        workers=2,
        startup_failure_exits=GUNICORN_BOOT_FAILURE,
    ),
    Server(
        "gunicorn-asgi",
        "gunicorn",
        _gunicorn("asgi"),
        sends_lifespan=True,
        workers=2,
        startup_failure_exits=GUNICORN_BOOT_FAILURE,
    ),
    Server(
        "daphne",
        "daphne",
        ("--bind", "127.0.0.1", "--port", "0", APP),
        sends_lifespan=False,
        startup_failure_exits=(),
    ),
)
UVICORN_WITHOUT_LIFESPAN = Server(
    "uvicorn-lifespan-off",
    "uvicorn",
    (APP, "--host", "127.0.0.1", "--port", "0", "--lifespan", "off", "--no-access-log"),
    sends_lifespan=False,
    sigterm_exit=-signal.SIGTERM,
    startup_failure_exits=(),
)


def server_named(name: str) -> Server:
    """The server of the suite called ``name``."""
    for server in (*SERVERS, UVICORN_WITHOUT_LIFESPAN):
        if server.name == name:
            return server
    raise LookupError(name)


class ServerProcess(ChildProcess):
    """A running server: its output, collected line by line as it comes, and its controls."""

    def __init__(self, server: Server, env: dict[str, str]) -> None:
        super().__init__(server.name, server.command(), env=env, cwd=REPO_ROOT)
        self.server = server
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- readiness -----------------------------------------------------------------------------

    def _listening_port(self) -> int:
        try:
            root = psutil.Process(self.process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        ports = set()
        for process in tree:
            with suppress(psutil.Error):
                for connection in process.net_connections(kind="tcp"):
                    if connection.status == psutil.CONN_LISTEN:
                        ports.add(connection.laddr.port)
        if len(ports) > 1:
            raise AssertionError(f"{self.server.name} listens on several ports: {ports}")
        return ports.pop() if ports else 0

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=2) as response:
                return response.status == 200
        except urllib.error.HTTPError as exc:
            # Without lifespan, /health reports the resources down (503) until first used.
            return not self.server.sends_lifespan and exc.code == 503
        except OSError:
            return False

    def wait_ready(self, timeout: float = DEADLINE) -> None:
        """Poll until it listens, every worker has started its resources (under lifespan) and
        ``/health`` answers; fail after ``timeout`` seconds or if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.server.name} exited ({self.process.returncode}) before it was "
                    f"ready:\n{self.output}"
                )
            self.port = self.port or self._listening_port()
            workers_up = not self.server.sends_lifespan or (
                len(self.workers("started")) >= self.server.workers
            )
            if self.port and workers_up and self._answers("/health"):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.server.name} was not ready within {timeout} s:\n{self.output}"
                )
            time.sleep(0.05)

    # -- what the logs say ---------------------------------------------------------------------

    def lifecycle(self) -> Counter[tuple[int, str, str]]:
        """``(pid, "started" | "stopped", resource)``: how often the library logged each."""
        return Counter(
            (int(pid), action, name) for pid, action, name in LIFECYCLE.findall(self.output)
        )

    def workers(self, action: str = "started") -> set[int]:
        """The processes that logged ``action`` for some resource."""
        return {pid for pid, logged, _ in self.lifecycle() if logged == action}

    def created(self) -> Counter[tuple[int, str]]:
        """``(pid, resource)``: instances the library created on first use (no lifespan)."""
        return Counter((int(pid), name) for pid, name in CREATED.findall(self.output))

    def exit_reports(self) -> dict[int, str]:
        """pid -> the resources still open when that process exited ("none")."""
        return {int(pid): names for pid, names in EXIT_REPORT.findall(self.output)}

    def leaks(self) -> list[str]:
        """Lines showing that the application left something open (see LEAKS)."""
        return [line.rstrip() for line in self.output.splitlines() if LEAKS.search(line)]

    def problems(self) -> list[str]:
        """Lines that must not appear after a clean run: tracebacks, unclosed sessions, ..."""
        return [line.rstrip() for line in self.output.splitlines() if PROBLEMS.search(line)]


def server_environment(upstream_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server process: this one's, less the suite's own variables."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INTEGRATION_", "DEMO_", "PYTHONDEVMODE", "PYTHONWARNINGS"))
        and key != "DJANGO_SETTINGS_MODULE"
    }
    environ.update(
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(DEMO_ROOT)]),
        DJANGO_SETTINGS_MODULE="tests.integration.project.settings",
        INTEGRATION_UPSTREAM_URL=upstream_url,
        PYTHONUNBUFFERED="1",
        # An unclosed socket, file or session, or a deprecated call, shows in the output (and
        # fails a clean run: warnings are errors).
        PYTHONWARNINGS="always::ResourceWarning,always::DeprecationWarning",
        **extra,
    )
    return environ


@contextmanager
def serve(server: Server, upstream_url: str, **env: str) -> Iterator[ServerProcess]:
    """Start ``server`` on a free port of 127.0.0.1 with the demo project; kill it at the end."""
    server.require()
    running = ServerProcess(server, server_environment(upstream_url, **env))
    try:
        yield running
    finally:
        running.kill()
