"""django-tasks-db's ``db_worker`` of the docs' example as a real process, on a SQLite file."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.celery_worker import EXAMPLES
from tests.processes import DEADLINE, ChildProcess
from tests.upstream import Upstream, running_upstream

TASKS = 200
POOL_LIMIT = 10  # the limit of the example's session (docs/examples/jobs/containers.py)

ENQUEUE = """
import json, os
from jobs.weather_tasks import sky
ids = [sky.enqueue(f"city{i}").id for i in range(int(os.environ["TASK_COUNT"]))]
print(json.dumps(ids))
"""
READ_BACK = """
import json, os
from jobs.weather_tasks import sky
results = [sky.get_result(i) for i in json.loads(os.environ["TASK_IDS"])]
print(json.dumps([[r.status, r.return_value] for r in results]))
"""


@pytest.fixture(name="weather", scope="module")
def fixture_weather() -> Iterator[Upstream]:
    with running_upstream() as upstream:
        yield upstream


@pytest.fixture(name="project_env")
def fixture_project_env(tmp_path: Path, weather: Upstream) -> dict[str, str]:
    """The example project on a fresh, migrated SQLite file, tasks going to the database."""
    if importlib.util.find_spec("django_tasks_db") is None:
        message = "django-tasks-db not installed: the integration extra brings it"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must not skip the worker
        pytest.skip(message)
    weather.reset()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PYTHONPATH": str(EXAMPLES),
        "JOBS_DATABASE": str(tmp_path / "jobs.sqlite3"),
        "JOBS_TASKS": "database",
        "WEATHER_URL": weather.url,
    }
    migrated = manage(env, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    return env


def manage(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py ...`` of the example, run to its end (bounded)."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
    )


def shell(env: dict[str, str], code: str, **variables: str) -> object:
    """Run ``code`` in ``manage.py shell``; the JSON it printed on its last line."""
    done = manage({**env, **variables}, "shell", "-c", code)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def wait_until_finished(worker: ChildProcess, database: str, count: int) -> bool:
    """Poll the task table (bounded) until ``count`` tasks finished; whether they did.

    Not the worker's log: its task lines go to the ``django.tasks`` logger, which Django's
    default logging shows only with ``DEBUG``.
    """
    deadline = time.monotonic() + DEADLINE * 2
    query = (  # the table of django-tasks-db's DBTaskResult (app label django_tasks_database)
        "SELECT count(*) FROM django_tasks_database_dbtaskresult "
        "WHERE status IN ('SUCCESSFUL', 'FAILED')"
    )
    while time.monotonic() < deadline and worker.process.poll() is None:
        with sqlite3.connect(database) as connection:
            (finished,) = connection.execute(query).fetchone()
        connection.close()
        if finished >= count:
            return True
        worker.wait_for_output(lambda _: False, 0.05)  # a bounded pause between polls
    return False


def start_worker(env: dict[str, str]) -> ChildProcess:
    command = [
        sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay",
        "--no-reload",
    ]  # fmt: skip
    return ChildProcess("db_worker", command, env=env, cwd=EXAMPLES)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_db_worker_runs_tasks_with_one_session_started_and_stopped_once(
    signum: signal.Signals,
    project_env: dict[str, str],
    weather: Upstream,
    record: Callable[..., None],
) -> None:
    """200 tasks through the worker's one session; the signal stops it, closing it once."""
    worker = start_worker(project_env)
    try:
        assert worker.wait_for_output(lambda out: "Starting worker" in out, DEADLINE), worker.output
        assert worker.output.count("started http_session in") == 1, worker.output
        ids = shell(project_env, ENQUEUE, TASK_COUNT=str(TASKS))
        assert isinstance(ids, list)
        assert len(ids) == TASKS
        assert wait_until_finished(worker, project_env["JOBS_DATABASE"], TASKS), worker.output
        results = shell(project_env, READ_BACK, TASK_IDS=json.dumps(ids))
        assert results == [["SUCCESSFUL", "clear"]] * TASKS
        connections = len(weather.connections)
        assert 1 <= connections <= POOL_LIMIT, worker.output
        worker.stop(signum)
        assert worker.wait() == 0, worker.output
    finally:
        worker.kill()
    assert worker.output.count("started http_session in") == 1, worker.output
    assert worker.output.count("stopped http_session in") == 1, worker.output
    assert "Traceback" not in worker.output, worker.output
    record(signal=signum.name, tasks=TASKS, upstream_connections=connections)


def test_db_worker_with_a_failing_resource_exits_naming_it(project_env: dict[str, str]) -> None:
    """A resource that cannot start: the worker exits 1 before running a task, naming it."""
    worker = start_worker({**project_env, "WEATHER_URL": "nonsense"})
    try:
        code = worker.wait()
    finally:
        worker.kill()
    assert code == 1, worker.output
    assert "CommandError: startup failed: resource 'http_session' failed to start" in (
        worker.output
    )
    assert "URL should be absolute" in worker.output
    assert "Starting worker" not in worker.output
