"""``manage.py lifespan_check`` and ``manage.py check`` on the demo project."""

from __future__ import annotations

import io

from django.core.management import call_command

RESOURCES = ("upstream", "http_session", "cache")


def lifespan_check() -> list[list[str]]:
    out = io.StringIO()
    call_command("lifespan_check", stdout=out, no_color=True)
    return [line.split() for line in out.getvalue().splitlines()]


def test_lifespan_check_starts_and_stops_each_resource() -> None:
    """Every resource is started and stopped once, each step reported ok, then success."""
    lines = lifespan_check()

    steps = [(line[0], line[1]) for line in lines if line[-1] == "ok"]
    assert sorted(steps) == sorted(
        [("start", name) for name in RESOURCES] + [("stop", name) for name in RESOURCES]
    )
    assert lines[-1] == ["lifespan", "startup", "and", "shutdown", "succeeded"]


def test_lifespan_check_follows_the_dependencies() -> None:
    """The session starts after the service it calls and stops before it."""
    steps = [(line[0], line[1]) for line in lifespan_check() if line[-1] == "ok"]

    assert steps.index(("start", "upstream")) < steps.index(("start", "http_session"))
    assert steps.index(("stop", "http_session")) < steps.index(("stop", "upstream"))


def test_system_checks_pass() -> None:
    """``manage.py check`` finds no problem: every injected view is wired."""
    out = io.StringIO()
    call_command("check", stdout=out)

    assert "no issues" in out.getvalue()
