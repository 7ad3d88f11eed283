"""The two places a configuration mistake is reported: ``manage.py check`` and the lifespan startup.

A test decorated with :data:`reported_by` runs once with each, as its ``report`` argument, and
checks the text with :func:`assert_reported`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.driver import drive_lifespan

STARTUP_TIMEOUT = 10.0
"""How long :func:`lifespan_report` waits for the app's answer to ``lifespan.startup``."""


def check_command_report() -> str:
    """What ``manage.py check`` reports; it must fail."""
    with pytest.raises(SystemCheckError) as info:
        call_command("check")
    return str(info.value)


def lifespan_report() -> str:
    """The message of the ``lifespan.startup.failed`` a server gets; startup must fail."""

    async def start() -> list[dict[str, Any]]:
        async with drive_lifespan(timeout=STARTUP_TIMEOUT) as run:
            return run.sent

    sent = asyncio.run(start())
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    return str(sent[0]["message"])


REPORTERS: dict[str, Callable[[], str]] = {
    "manage.py check": check_command_report,
    "lifespan startup": lifespan_report,
}
reported_by = pytest.mark.parametrize("report", list(REPORTERS.values()), ids=list(REPORTERS))
"""Run the test with each reporter as ``report``: the check command, or the lifespan startup."""


def assert_reported(text: str, check_id: str, fragments: list[str]) -> None:
    """``text`` reports the check ``check_id`` and contains every one of ``fragments``."""
    assert f"(django_lifespan_di.{check_id}) " in text, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
