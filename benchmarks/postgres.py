"""A throwaway PostgreSQL cluster for the request-threads section, and its connection counts.

``running_cluster()`` installs the Debian package if no ``initdb`` is found (as root, with
``apt-get``), creates a cluster in a temporary directory owned by the ``postgres`` user (or by
the current user when not root), starts it on 127.0.0.1 on a free port, pinned to the load
generator's CPU, and on exit stops it and deletes the directory. It raises
:class:`Unavailable`, with the reason, when any of that cannot be done: the caller skips the
PostgreSQL part.

``ConnectionWatch`` samples, while a server runs, how many connections the benchmark database
has (``pg_stat_activity``) and how many threads the server process has, and counts the sessions
the database accepted over the server's whole life (``pg_stat_database.sessions``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import httpbench

DATABASE = "bench"
USER = "bench"
TABLE = "bench_item"
# Enough for the leak of CONN_MAX_AGE > 0 under stock ASGI to show, with room for the rest.
MAX_CONNECTIONS = 200
_SUPERUSER = "postgres"
# Sampling period of the connection and thread counts (on the load generator's CPU).
_SAMPLE_S = 0.05


class Unavailable(RuntimeError):
    """PostgreSQL cannot be installed or started here; the message says why."""


@dataclass(frozen=True)
class Cluster:
    """A running cluster: where to reach it, and the version of its server."""

    host: str
    port: int
    version: str
    directory: Path

    def django_env(self) -> dict[str, str]:
        """What ``benchmarks.apps.settings_orm`` reads to build ``DATABASES``."""
        return {
            "BENCH_PG_HOST": self.host,
            "BENCH_PG_PORT": str(self.port),
            "BENCH_PG_NAME": DATABASE,
            "BENCH_PG_USER": USER,
        }

    def connect(self, dbname: str = DATABASE, user: str = USER) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, dbname=dbname, user=user, autocommit=True
        )


def _bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _install(log: Path) -> None:
    """``apt-get install postgresql`` as root; the output goes to ``log``."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(
            "PostgreSQL is not installed, and installing it needs root and apt-get "
            "(apt-get install postgresql)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("a") as out:
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        ):
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env).returncode:
                raise Unavailable(f"{' '.join(command)} failed; see {log}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Runner:
    """Runs the server's programs as ``postgres`` when root (initdb refuses root), else as is."""

    def __init__(self) -> None:
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise Unavailable("running as root, and there is no `postgres` user") from exc

    def own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def run(self, command: list[str], log: Path, *, pin: bool = False) -> None:
        env = httpbench.child_env()
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            env.update(HOME=self.user.pw_dir, USER="postgres", LOGNAME="postgres")
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        if pin:  # the postmaster, and so every backend it forks, on the load generator's CPU
            command = httpbench.pinned(command, httpbench.LOAD_CPU)
            kwargs["preexec_fn"] = httpbench.preexec(httpbench.LOAD_CPU)
        with log.open("a") as out:
            completed = subprocess.run(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(log.parent),
                check=False,
                **kwargs,
            )
        if completed.returncode:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            raise Unavailable(
                f"{Path(command[0]).name} ... failed ({completed.returncode}): {tail}"
            )


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Install if needed, start a throwaway cluster, yield it; stop and delete it on exit."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise Unavailable("psycopg is not installed (pip install 'psycopg[binary]')") from exc
    directory = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    log = directory / "setup.log"
    log.touch()
    data = directory / "data"
    bin_dir: Path | None = None
    started = False
    try:
        bin_dir = _bin_dir()
        if bin_dir is None:
            _install(log)
            bin_dir = _bin_dir()
            if bin_dir is None:
                raise Unavailable(f"apt-get installed postgresql, but no initdb was found; {log}")
        runner = _Runner()
        for path in (directory, log):
            runner.own(path)
        directory.chmod(0o700)
        runner.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                _SUPERUSER,
                "--auth=trust",  # reachable on 127.0.0.1 only, and deleted at the end
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            log,
        )
        port = _free_port()
        options = " ".join(
            [
                f"-p {port}",
                f"-k {directory}",
                "-c listen_addresses=127.0.0.1",
                f"-c max_connections={MAX_CONNECTIONS}",
                # Django asks for UTC; a server already in UTC saves a SET per new connection.
                "-c timezone=UTC",
            ]
        )
        runner.run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(directory / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            log,
            pin=True,
        )
        started = True
        cluster = Cluster("127.0.0.1", port, bin_dir.parent.name, directory)
        _create_database(cluster)
        yield cluster
    finally:
        if started and bin_dir is not None:
            _stop(data, bin_dir, log)
        shutil.rmtree(directory, ignore_errors=True)


def _create_database(cluster: Cluster) -> None:
    with cluster.connect("postgres", _SUPERUSER) as admin:
        admin.execute(f"CREATE ROLE {USER} LOGIN")
        admin.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, name text NOT NULL)")
        conn.execute(f"INSERT INTO {TABLE} VALUES (1, repeat('x', 64))")
        conn.execute(f"ANALYZE {TABLE}")


def _stop(data: Path, bin_dir: Path, log: Path) -> None:
    """Stop the cluster this module started: ``pg_ctl stop``, else kill its postmaster."""
    pid_file = data / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
    try:
        _Runner().run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"],
            log,
        )
    except Unavailable:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def server_version(cluster: Cluster) -> str:
    with cluster.connect() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else cluster.version


class ConnectionWatch:
    """The database's connections and the server's threads, sampled while a server runs."""

    def __init__(self, cluster: Cluster | None) -> None:
        self._cluster = cluster
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sessions_before = 0
        self._db_max = 0
        self._threads_max = 0

    def _count(self) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [DATABASE]
        ).fetchone()
        return int(row[0])

    def _sessions(self) -> int:
        row = self._conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [DATABASE]
        ).fetchone()
        return int(row[0])

    def before_start(self) -> None:
        """Before the server starts: the sessions counter's baseline."""
        self._db_max = self._threads_max = 0
        if self._cluster is not None:
            # Watched from the superuser's database, so this connection is not counted.
            self._conn = self._cluster.connect("postgres", _SUPERUSER)
            self._sessions_before = self._sessions()

    def watch(self, server_pid: int) -> None:
        """Once the server answers: sample until ``after_stop``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, args=(server_pid,), daemon=True)
        self._thread.start()

    def _sample(self, server_pid: int) -> None:
        tasks = Path(f"/proc/{server_pid}/task")
        while not self._stop.wait(_SAMPLE_S):
            with contextlib.suppress(OSError):
                self._threads_max = max(self._threads_max, len(os.listdir(tasks)))
            if self._conn is not None:
                self._db_max = max(self._db_max, self._count())

    def after_stop(self) -> dict[str, Any]:
        """After the server stopped: the maxima, the sessions opened, what stayed open."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        result: dict[str, Any] = {"server_threads_max": self._threads_max}
        if self._conn is None:
            return result
        try:
            # The server's backends end once it has exited; they flush their statistics then.
            deadline = time.monotonic() + 10
            left = self._count()
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = self._count()
            result.update(
                db_connections_max=self._db_max,
                db_sessions=self._sessions() - self._sessions_before,
                db_connections_left=left,
            )
        finally:
            self._conn.close()
            self._conn = None
        return result
