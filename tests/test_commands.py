"""``LifespanCommand``: management commands run between the startup and shutdown of resources."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_lifespan_di import _background, sync
from tests import sync_containers
from tests.sync_containers import AsyncCommand, PlainCommand, SyncCommand, container_settings
from tests.upstream import Upstream

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "docs" / "examples"


def test_async_handle_runs_between_startup_and_shutdown(pooled: Upstream) -> None:
    """An async handle gets the session injected; resources start before and stop after it."""
    stdout = StringIO()
    call_command(AsyncCommand(), stdout=stdout)
    assert stdout.getvalue() == "async done\n"
    events = sync_containers.events
    assert events.index("handled async") > max(events.index("start audit"), 1)
    assert events.index("handled async") < events.index("stop audit")
    assert "stop client" in events
    assert _background.running_lifecycle() is None


def test_sync_handle_gets_the_session_and_shares_its_pool(pooled: Upstream) -> None:
    """A sync handle gets the background loop's session; its calls share one connection."""
    stdout = StringIO()
    call_command(SyncCommand(), stdout=stdout)
    assert stdout.getvalue() == "s1\ns2\n"
    assert "handled with ClientSession" in sync_containers.events
    assert len(pooled.connections) == 1
    assert _background.running_lifecycle() is None


def test_failing_resource_ends_the_command_naming_it(upstream: Upstream) -> None:
    """A resource that fails to start: CommandError naming it, handle never runs."""
    sync_containers.events.clear()
    with container_settings("Failing"), pytest.raises(CommandError) as raised:
        call_command(PlainCommand())
    assert "startup failed: resource 'broken' failed to start" in str(raised.value)
    assert "StartFailed: broken is down" in str(raised.value)
    assert _background.running_lifecycle() is None


def test_failing_handle_still_stops_every_resource(pooled: Upstream) -> None:
    """handle raising: its error reaches the caller, after the ordered shutdown."""
    with pytest.raises(CommandError, match="handle failed"):
        call_command(PlainCommand(), fail=True)
    assert sync_containers.events.count("stop audit") == 1
    assert _background.running_lifecycle() is None


def test_failing_handle_wins_over_a_failing_shutdown(pooled: Upstream) -> None:
    """When handle and shutdown both fail, the handle's error is reported (shutdown's logged)."""
    command = PlainCommand()
    lifecycle = _failing_shutdown_lifecycle()
    command.lifecycle = lifecycle
    with pytest.raises(CommandError, match="handle failed"):
        _run_with(lifecycle, command, fail=True)
    assert _background.running_lifecycle() is None


def test_failing_shutdown_ends_the_command_naming_it(pooled: Upstream) -> None:
    """A shutdown failure after a good handle: CommandError naming what failed to stop."""
    lifecycle = _failing_shutdown_lifecycle()
    with pytest.raises(CommandError, match=r"shutdown failed: failed to stop: .*broken_hook"):
        _run_with(lifecycle, PlainCommand())
    assert _background.running_lifecycle() is None


def test_command_inside_a_running_loop_leaves_it_running(pooled: Upstream) -> None:
    """A command called where the background loop already runs uses it and leaves it running."""
    sync.start()
    before = _background.running_lifecycle()
    call_command(PlainCommand(), stdout=StringIO())
    assert _background.running_lifecycle() is before
    assert "stop audit" not in sync_containers.events


def test_manage_py_runs_the_documented_commands(upstream: Upstream) -> None:
    """`python manage.py forecast ...` and `forecast_sync ...` of docs/examples: exit 0."""
    for command in ("forecast", "forecast_sync"):
        done = _manage(EXAMPLES / "manage.py", command, "Oslo", "Bergen", upstream=upstream)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Oslo: clear\nBergen: clear\n"
        assert done.stderr.count("started http_session in") == 1, done.stderr
        assert done.stderr.count("stopped http_session in") == 1, done.stderr


def test_manage_py_exits_non_zero_naming_the_failed_resource(upstream: Upstream) -> None:
    """A real `manage.py` run whose resource fails to start: exit 1, the resource named."""
    done = _manage(None, "sync_fetch", "someone", upstream=upstream, SYNC_CONTAINER="Failing")
    assert done.returncode == 1
    assert "CommandError: startup failed: resource 'broken' failed to start" in done.stderr
    assert done.stdout == ""


def test_manage_py_runs_the_suite_command(upstream: Upstream) -> None:
    """The suite's own command, in a real process: one connection for all its calls."""
    done = _manage(None, "sync_fetch", "a", "b", "c", upstream=upstream)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "a\nb\nc\n"
    assert len(upstream.connections) == 1


def _manage(
    manage: Path | None, *arguments: str, upstream: Upstream, **env: str
) -> subprocess.CompletedProcess[str]:
    if manage is None:
        command = [sys.executable, "-m", "django", *arguments, "--settings", "tests.sync_settings"]
        cwd = ROOT
    else:
        command = [sys.executable, str(manage), *arguments]
        cwd = manage.parent
    environment = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "UPSTREAM_URL": upstream.url,
        "WEATHER_URL": upstream.url,
        "PYTHONPATH": str(cwd),
        **env,
    }
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=60
    )


def _failing_shutdown_lifecycle() -> object:
    from django_lifespan_di._process import configured_lifecycle

    def broken_hook() -> None:
        raise RuntimeError("cannot stop")

    lifecycle = configured_lifecycle()
    lifecycle.on_shutdown = (broken_hook,)
    return lifecycle


def _run_with(lifecycle: object, command: PlainCommand, **options: object) -> None:
    """Run ``command`` with ``lifecycle`` as the one the configuration gives."""
    from unittest import mock

    with mock.patch("django_lifespan_di.commands.configured_lifecycle", return_value=lifecycle):
        call_command(command, stdout=StringIO(), **options)


def test_subclass_of_a_command_keeps_its_handle(pooled: Upstream) -> None:
    """A subclass that does not define handle inherits the (already wrapped) one."""

    class Again(PlainCommand):
        pass

    with pytest.raises(CommandError, match="handle failed"):
        call_command(Again(), fail=True)


def test_failing_handle_inside_a_running_loop_leaves_it_running(pooled: Upstream) -> None:
    """handle failing where the loop already ran: the error, and the loop still running."""
    sync.start()
    with pytest.raises(CommandError, match="handle failed"):
        call_command(PlainCommand(), fail=True)
    assert _background.running_lifecycle() is not None
