"""The integration suite runs only when asked: ``LIFESPAN_DI_INTEGRATION=1`` (``nox -s
integration``). Otherwise none of its modules is even collected, so
the main test run neither needs the servers nor spends minutes on them.

Each test records what it observed; the table is printed at the end of the run and, with
``LIFESPAN_DI_INTEGRATION_REPORT=path``, written there as JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.integration.upstream import Upstream

ENABLED = os.environ.get("LIFESPAN_DI_INTEGRATION") == "1"

if not ENABLED:
    collect_ignore_glob = ["test_*.py"]

_RESULTS = pytest.StashKey[list[dict[str, Any]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: a long-running test (nox -s soak), not in CI")
    config.stash[_RESULTS] = []


def pytest_report_header(config: pytest.Config) -> str:
    if ENABLED:
        return "integration suite: on (real server processes)"
    return "integration suite (tests/integration): off; set LIFESPAN_DI_INTEGRATION=1 to run it"


@pytest.fixture(name="upstream_service", scope="session")
def fixture_upstream_service() -> Iterator[Upstream]:
    from tests.integration.upstream import running_upstream

    with running_upstream() as upstream:
        yield upstream


@pytest.fixture(name="upstream")
def fixture_upstream(upstream_service: Upstream) -> Iterator[Upstream]:
    """The suite's weather service, with what it saw forgotten, answering at once."""
    upstream_service.reset()
    yield upstream_service
    upstream_service.reset()
    upstream_service.come_back_if_down()


@pytest.fixture(name="record")
def fixture_record(
    request: pytest.FixtureRequest,
) -> Callable[..., None]:
    """Record one row of observations for the end-of-run table."""

    def record(**row: Any) -> None:
        request.config.stash[_RESULTS].append({"test": request.node.name, **row})

    return record


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    rows = config.stash.get(_RESULTS, [])
    if not rows:
        return
    terminalreporter.section("integration results")
    for row in rows:
        terminalreporter.write_line(
            "  ".join(f"{key}={value}" for key, value in row.items() if value is not None)
        )
    path = os.environ.get("LIFESPAN_DI_INTEGRATION_REPORT")
    if path:
        Path(path).write_text(json.dumps(_plain(rows), indent=2, default=str) + "\n")
        terminalreporter.write_line(f"written to {path}")


def _plain(value: Any) -> Any:
    """``value`` with every mapping key a string (a row may key counts by ``(pid, name)``)."""
    if isinstance(value, dict):
        return {str(key): _plain(each) for key, each in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(each) for each in value]
    return value
