"""Django tasks: task functions get the background loop's resources with ``sync.inject``.

Each test runs with every tasks framework this Django has: ``django.tasks`` (Django 6.0+) and
the ``django-tasks`` backport (installed by the test extra, on every supported Django).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import django
import pytest
from django.test import override_settings

from django_lifespan_di import sync
from tests import sync_containers, task_functions
from tests.sync_containers import POOL_LIMIT, container_settings
from tests.test_commands import EXAMPLES, _manage
from tests.upstream import Upstream

FRAMEWORKS = ["django.tasks", "django_tasks"]
TASKS = 40


def _absent(framework: str) -> str | None:
    """Why ``framework`` cannot be tested here, or ``None`` if it can."""
    if importlib.util.find_spec(framework) is not None:
        return None
    if framework == "django.tasks":
        return f"django.tasks is new in Django 6.0 (this is Django {django.get_version()})"
    return "the django-tasks backport is not installed (pip install django-tasks)"


@pytest.fixture(name="tasks", params=FRAMEWORKS)
def fixture_tasks(request: pytest.FixtureRequest, upstream: Upstream) -> Iterator[ModuleType]:
    """A tasks framework with its immediate backend; the ``Pooled`` container; no loop after."""
    framework: str = request.param
    reason = _absent(framework)
    if reason is not None:
        pytest.skip(reason)
    backend = {"default": {"BACKEND": f"{framework}.backends.immediate.ImmediateBackend"}}
    sync_containers.events.clear()
    with container_settings("Pooled"), override_settings(TASKS=backend):
        try:
            yield importlib.import_module(framework)
        finally:
            sync.stop()
    sync_containers.events.clear()


def successful(result: Any) -> Any:
    """The return value of a finished task result, or a failure showing its traceback."""
    assert result.status == "SUCCESSFUL", [error.traceback for error in result.errors]
    return result.return_value


def test_a_task_gets_the_pooled_session_of_the_background_loop(tasks: ModuleType) -> None:
    """An async task function under sync.inject runs on the background loop, with its session."""
    fetch = tasks.task(task_functions.fetch_user)
    value = successful(fetch.enqueue("u1"))
    assert value == {"user": "u1", "session": id(sync_containers.session_of_sync_caller())}
    assert sync_containers.events[:2] in (
        ["start audit", "start client"],
        ["start client", "start audit"],
    )


def test_many_tasks_share_one_session_and_the_pool(tasks: ModuleType, upstream: Upstream) -> None:
    """40 tasks from 8 threads: one session, at most the pool's limit of upstream connections."""
    fetch = tasks.task(task_functions.fetch_user)
    with ThreadPoolExecutor(8) as executor:
        results = list(executor.map(fetch.enqueue, [f"u{i}" for i in range(TASKS)]))
    values = [successful(result) for result in results]
    assert [value["user"] for value in values] == [f"u{i}" for i in range(TASKS)]
    assert len({value["session"] for value in values}) == 1
    assert len(upstream.requests) == TASKS
    assert 1 <= len(upstream.connections) <= POOL_LIMIT


def test_a_sync_task_function_gets_the_resources(tasks: ModuleType, upstream: Upstream) -> None:
    """A sync task function under sync.inject gets the session; its calls share a connection."""
    fetch = tasks.task(task_functions.fetch_user_sync)
    values = [successful(fetch.enqueue(user)) for user in ("a", "b", "c")]
    assert [value["user"] for value in values] == ["a", "b", "c"]
    assert {value["session"] for value in values} == {id(sync_containers.session_of_sync_caller())}
    assert len(upstream.connections) == 1


def test_a_task_taking_its_context_gets_it_and_the_session(tasks: ModuleType) -> None:
    """takes_context=True: the context comes first, the session is still injected."""
    fetch = tasks.task(takes_context=True)(task_functions.fetch_with_context)
    value = successful(fetch.enqueue("ctx"))
    assert value["user"] == "ctx"
    assert value["attempt"] == 1


@pytest.mark.asyncio
async def test_aenqueue_from_async_code_uses_the_background_loop(tasks: ModuleType) -> None:
    """A task enqueued from async code (aenqueue) still runs with the background loop's session."""
    fetch = tasks.task(task_functions.fetch_user)
    values = [successful(await fetch.aenqueue(user)) for user in ("x", "y")]
    assert [value["user"] for value in values] == ["x", "y"]
    assert len({value["session"] for value in values}) == 1


def test_the_view_decorator_on_a_task_opens_a_session_per_task(
    tasks: ModuleType, upstream: Upstream
) -> None:
    """The control: an async task the framework runs with async_to_sync gets a loop, a session
    and a connection per task; sync.inject is what shares them."""
    fetch = tasks.task(task_functions.fetch_on_its_own_loop)
    assert [successful(fetch.enqueue(f"u{i}")) for i in range(5)] == [f"u{i}" for i in range(5)]
    assert len(upstream.transports) == 5
    assert "start audit" not in sync_containers.events  # no background loop involved


def test_sync_inject_over_the_task_decorator_names_the_right_order(tasks: ModuleType) -> None:
    """sync.inject applied to a task object: a TypeError saying to put it below @task."""
    task = tasks.task(task_functions.needs_a_session)
    with pytest.raises(
        TypeError, match=r"over the task decorator of needs_a_session; put it below"
    ):
        sync.inject(task)


def test_sync_inject_on_a_task_without_markers_says_there_is_nothing_to_inject(
    tasks: ModuleType,
) -> None:
    """A task object whose function asks for nothing: the usual 'no Provide[...]' TypeError."""
    task = tasks.task(task_functions.fetch_user)  # already injected: no marker left to see
    with pytest.raises(TypeError, match=r"has no Provide\[\.\.\.\] default to inject"):
        sync.inject(task)


def test_the_documented_task_runs_in_manage_py(upstream: Upstream) -> None:
    """docs/examples/jobs/weather_tasks.py in a real process: 3 tasks, one connection, one
    start and one stop of the session."""
    if all(_absent(framework) for framework in FRAMEWORKS):
        pytest.skip(" and ".join(filter(None, map(_absent, FRAMEWORKS))))
    code = (
        "from jobs.weather_tasks import sky; "
        "print(*(sky.enqueue(city).return_value for city in ['Oslo', 'Bergen', 'Tromsø']))"
    )
    done = _manage(EXAMPLES / "manage.py", "shell", "-c", code, upstream=upstream)
    assert done.returncode == 0, done.stderr
    # Django 5.2's shell may first say how many objects it imported.
    assert done.stdout.splitlines()[-1] == "clear clear clear", done.stdout
    assert len(upstream.connections) == 1
    assert done.stderr.count("started http_session in") == 1, done.stderr
    assert done.stderr.count("stopped http_session in") == 1, done.stderr
