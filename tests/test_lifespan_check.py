"""``manage.py lifespan_check``: the lifespan startup and shutdown, run without serving."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests import lifecycle_containers

HOOKS = "tests.lifecycle_containers"
SHORT = 0.5
"""The SHUTDOWN_TIMEOUT of the test that waits one out."""
MARGIN = 10.0
"""The timeouts of the other tests, so that a slow machine does not make them hit one."""


@pytest.fixture(name="record", autouse=True)
def fixture_record() -> Iterator[list[str]]:
    """The events of the test containers' resources and hooks, empty at the start of a test."""
    lifecycle_containers.reset()
    yield lifecycle_containers.events
    lifecycle_containers.reset()


def lifecycle_settings(container: str, **options: Any) -> override_settings:
    """Settings selecting a container of ``tests.lifecycle_containers`` (it serves no views)."""
    return override_settings(
        ROOT_URLCONF=HOOKS,
        DJANGO_LIFESPAN_DI={
            "CONTAINER": f"{HOOKS}.{container}",
            "STARTUP_TIMEOUT": MARGIN,
            "SHUTDOWN_TIMEOUT": MARGIN,
            **options,
        },
    )


def lifespan_check() -> str:
    """Run the command; return what it printed."""
    stdout = StringIO()
    call_command("lifespan_check", stdout=stdout, no_color=True)
    return stdout.getvalue()


def failing_lifespan_check() -> tuple[str, str]:
    """Run the command, which must fail; return what it printed and its error."""
    stdout = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("lifespan_check", stdout=stdout, no_color=True)
    return stdout.getvalue(), str(raised.value)


def step(action: str, name: str, outcome: str = "ok") -> re.Pattern[str]:
    """The line printed for one step: action, name, duration in ms, outcome (a regex)."""
    return re.compile(rf"^{re.escape(action)} +{re.escape(name)} +\d+\.\d ms  {outcome}$", re.M)


def test_success_prints_each_step_with_its_timing(record: list[str]) -> None:
    """Every resource started and stopped, and every hook run, is printed once with its time;
    the command ends with a success line and leaves nothing started."""
    with lifecycle_settings(
        "Simple",
        ON_STARTUP=[f"{HOOKS}.async_startup_hook"],
        ON_SHUTDOWN=[f"{HOOKS}.async_shutdown_hook"],
    ):
        output = lifespan_check()
    for action, name in [
        ("start", "a"),
        ("start", "b"),
        ("start", "plain"),
        ("startup hook", f"{HOOKS}.async_startup_hook"),
        ("shutdown hook", f"{HOOKS}.async_shutdown_hook"),
        ("stop", "a"),
        ("stop", "b"),
        ("stop", "plain"),
    ]:
        assert len(step(action, name).findall(output)) == 1, (action, name, output)
    assert "FAILED" not in output
    assert output.rstrip().endswith("lifespan startup and shutdown succeeded")
    assert sorted(e for e in record if e.startswith("stop")) == ["stop a", "stop b", "stop plain"]


def test_failing_resource_makes_the_command_fail_naming_it(record: list[str]) -> None:
    """A resource that fails to start fails the command with an error naming it; the failed
    step is printed, and the resources started before it are stopped."""
    with lifecycle_settings("FailingStart"):
        output, error = failing_lifespan_check()
    assert error.startswith("startup failed: resource 'c' failed to start")
    assert "StartFailed: c could not connect" in error
    assert step("start", "c", "FAILED: resource 'c' failed to start.*").search(output), output
    assert "succeeded" not in output
    assert record == ["start a", "start b", "start c", "stop b", "stop a"]


def test_configuration_mistake_makes_the_command_fail_with_the_check_id(
    record: list[str],
) -> None:
    """A settings mistake fails the command with the system check's id and message, before
    anything is started."""
    with override_settings(DJANGO_LIFESPAN_DI={"CONTIANER": f"{HOOKS}.Simple"}):
        output, error = failing_lifespan_check()
    assert "(django_lifespan_di.E002)" in error
    assert "DJANGO_LIFESPAN_DI has unknown key(s) 'CONTIANER'" in error
    assert output == ""
    assert record == []


def test_shutdown_failure_makes_the_command_fail_naming_the_resources(
    record: list[str],
) -> None:
    """Resources that raise or hang when stopped fail the command with an error naming them;
    each failed stop is printed, and every other resource still stops."""
    with lifecycle_settings("FailingStop", SHUTDOWN_TIMEOUT=SHORT):
        output, error = failing_lifespan_check()
    assert error.startswith("shutdown failed: failed to stop: ")
    assert "broken" in error
    assert "stuck" in error
    broken = step("stop", "broken", "FAILED: failed to stop: StopFailed: broken could not flush")
    stuck = step(
        "stop", "stuck", re.escape(f"FAILED: did not stop within {SHORT:g} s (SHUTDOWN_TIMEOUT)")
    )
    assert broken.search(output), output
    assert stuck.search(output), output
    for fine in ("base", "other", "plain"):
        assert step("stop", fine).search(output), (fine, output)
    assert "succeeded" not in output


@pytest.mark.parametrize("setting", ["ok", "failing-resource"])
def test_the_real_command_exits_as_it_reports(setting: str) -> None:
    """``python -m django lifespan_check`` as an operator runs it: exit 0 and the success line,
    or exit 1 naming the resource that failed, with everything started stopped again."""
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.server_project.settings",
        "LIFESPAN_DI_CASE": setting,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "django", "lifespan_check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if setting == "ok":
        assert done.returncode == 0, done.stderr
        assert "lifespan startup and shutdown succeeded" in done.stdout
        assert step("stop", "http_session").search(done.stdout), done.stdout
    else:
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "startup failed: resource 'payments_client' failed to start" in done.stderr
        assert step("stop", "http_session").search(done.stdout), done.stdout
    assert "Traceback" not in done.stderr, done.stderr
