"""Readiness and liveness probes, health checks, pool numbers and ``lifespan_check --ping``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import asynccontextmanager
from io import StringIO
from typing import Any

import aiohttp
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import AsyncClient, Client, override_settings

from django_lifespan_di import _container, _readiness, health
from django_lifespan_di.aiohttp import client_session
from django_lifespan_di.aiohttp import pool_stats as aiohttp_pool_stats
from django_lifespan_di.health import PoolStats, pool_metrics
from tests import health_checks
from tests.driver import drive_lifespan
from tests.upstream import Upstream


def health_settings(container: str = "tests.health_project.Container", **options: Any) -> Any:
    # Each container module has the URLconf of its views (and the probes).
    return override_settings(
        ROOT_URLCONF=container.rpartition(".")[0],
        DJANGO_LIFESPAN_DI={"CONTAINER": container, "HEALTH_TIMEOUT": 2, **options},
    )


@pytest.fixture(autouse=True)
def fixture_fresh_state(monkeypatch: pytest.MonkeyPatch, upstream: Upstream) -> Iterator[None]:
    """No lifespan has run yet in this "process"; no check has failed; the upstream is up."""
    monkeypatch.setattr(_readiness, "_phase", None)
    monkeypatch.setattr(health, "_last_errors", {})
    health_checks.down.clear()
    health_checks.checked.clear()
    health_checks.seen.clear()
    yield
    _container.setup()


@pytest.fixture(name="configure")
def fixture_configure() -> Iterator[Any]:
    """Point the settings at a container of the health tests, and build it."""
    active: list[Any] = []

    def configure(container: str = "tests.health_project.Container", **options: Any) -> None:
        overridden = health_settings(container, **options)
        overridden.enable()
        active.append(overridden)
        _container.setup()

    yield configure
    for overridden in reversed(active):
        overridden.disable()


async def probe(path: str = "/health/ready") -> tuple[int, dict[str, Any]]:
    response = await AsyncClient().get(path)
    return response.status_code, json.loads(response.content)


@pytest.mark.asyncio
async def test_under_lifespan_readiness_runs_each_resources_default_check(
    configure: Any, upstream: Upstream
) -> None:
    """Once started: 200, each client up with its check's latency and its pool's numbers."""
    configure()
    async with drive_lifespan():
        status, body = await probe()

    assert status == 200
    assert (body["ready"], body["phase"]) == (True, "ready")
    assert sorted(body["resources"]) == ["http_session", "httpx_client"]
    for name, resource in body["resources"].items():
        assert (resource["status"], resource["checked"], resource["error"]) == ("up", True, None)
        assert resource["latency_ms"] >= 0, name
        assert resource["pool"] == {"open": 1, "in_use": 0, "waiting": 0, "limit": 100}, name
    assert [seen.path for seen in upstream.log] == ["/echo", "/echo"]


@pytest.mark.asyncio
async def test_readiness_is_503_while_starting_and_from_the_start_of_the_shutdown(
    configure: Any,
) -> None:
    """A resource asking in its startup gets 503 'starting'; asking in its shutdown, before
    the session it depends on is closed, gets 503 'stopping'; after it, 'stopped'."""
    configure("tests.health_checks.ProbingContainer")
    async with drive_lifespan():
        status, _ = await probe()
        assert status == 200
    after = await probe()

    assert [
        (when, status, json.loads(body), closed)
        for when, status, body, closed in health_checks.seen
    ] == [
        ("startup", 503, {"ready": False, "phase": "starting", "resources": {}}, False),
        ("shutdown", 503, {"ready": False, "phase": "stopping", "resources": {}}, False),
    ]
    assert after == (503, {"ready": False, "phase": "stopped", "resources": {}})


@pytest.mark.asyncio
async def test_a_failed_startup_leaves_readiness_at_503(configure: Any) -> None:
    """A startup that failed is reported as phase 'failed', 503."""
    configure("tests.health_checks.RefusingContainer")
    async with drive_lifespan() as run:
        assert run.types == ["lifespan.startup.failed"]
        assert await probe() == (503, {"ready": False, "phase": "failed", "resources": {}})


@pytest.mark.asyncio
async def test_liveness_stays_200_and_runs_no_check(configure: Any, upstream: Upstream) -> None:
    """Liveness answers 200 in every phase and sends nothing upstream."""
    configure()
    answers = [await probe("/health/live")]
    async with drive_lifespan():
        answers.append(await probe("/health/live"))
    answers.append(await probe("/health/live"))

    assert answers == [
        (200, {"alive": True, "phase": "no lifespan"}),
        (200, {"alive": True, "phase": "ready"}),
        (200, {"alive": True, "phase": "stopped"}),
    ]
    assert upstream.log == []


@pytest.mark.asyncio
async def test_a_configured_check_replaces_the_default_and_its_failure_is_remembered(
    configure: Any,
) -> None:
    """HEALTH_CHECKS names the check: failing, 503 with its error; passing again, 200 with the
    error kept as last_error."""
    configure(HEALTH_CHECKS={"http_session": "tests.health_checks.flaky"})
    async with drive_lifespan():
        health_checks.down["http_session"] = "upstream went away"
        failing = await probe()
        health_checks.down.clear()
        passing = await probe()

    assert failing[0] == 503
    session = failing[1]["resources"]["http_session"]
    assert (session["status"], session["error"]) == ("down", "ConnectionError: upstream went away")
    assert failing[1]["resources"]["httpx_client"]["status"] == "up"
    assert passing[0] == 200
    session = passing[1]["resources"]["http_session"]
    assert (session["status"], session["error"]) == ("up", None)
    assert session["last_error"] == "ConnectionError: upstream went away"
    assert all(isinstance(each, aiohttp.ClientSession) for each in health_checks.checked)


@pytest.mark.asyncio
async def test_a_check_that_hangs_is_down_after_health_timeout(configure: Any) -> None:
    """A check that does not answer within HEALTH_TIMEOUT is down, saying so."""
    configure(HEALTH_CHECKS={"http_session": "tests.health_checks.hangs"}, HEALTH_TIMEOUT=0.1)
    async with drive_lifespan():
        status, body = await probe()

    assert status == 503
    session = body["resources"]["http_session"]
    assert session["error"] == "the health check did not answer within 0.1 s (HEALTH_TIMEOUT)"
    assert session["latency_ms"] >= 100


@pytest.mark.asyncio
async def test_an_upstream_answering_an_error_status_is_down(
    configure: Any, upstream: Upstream
) -> None:
    """The default check counts a status of 400 or more as down, naming URL and status."""
    configure("tests.health_checks.ErrorStatusContainer")
    async with drive_lifespan():
        status, body = await probe()

    assert status == 503
    assert body["resources"]["http_session"]["error"] == (
        "RuntimeError: GET /no-such-page answered 404 Not Found"
    )
    assert body["resources"]["httpx_client"]["error"] == (
        "RuntimeError: GET /no-such-page answered 404 Not Found"
    )


def test_without_lifespan_readiness_starts_and_checks_on_the_requests_own_loop(
    configure: Any, upstream: Upstream
) -> None:
    """Without lifespan (the sync Client: a new loop per request, as runserver), each probe
    starts the clients on its loop, checks them, and they close with the loop: 200."""
    configure()
    answers = [Client().get("/health/ready") for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [answer.json()["phase"] for answer in answers] == ["no lifespan"] * 2
    assert [seen.path for seen in upstream.log] == ["/echo"] * 4


@pytest.mark.asyncio
async def test_without_lifespan_a_resource_that_cannot_start_is_down(configure: Any) -> None:
    """Without lifespan, a resource whose start fails is down (no check ran): 503."""
    configure("tests.health_checks.RefusingContainer")
    status, body = await probe()

    assert status == 503
    assert body["resources"]["cache"] == {
        "status": "down",
        "checked": False,
        "latency_ms": None,
        "error": "ConnectionRefusedError: cache.invalid:6379 refused the connection",
        "last_error": "ConnectionRefusedError: cache.invalid:6379 refused the connection",
        "pool": None,
    }


@pytest.mark.asyncio
async def test_resources_without_a_check_are_up_once_started(configure: Any) -> None:
    """A session without health_url, a plain value and a sync resource: up, unchecked."""
    configure("tests.health_checks.PlainContainer")
    async with drive_lifespan():
        status, body = await probe()

    assert status == 200
    assert {
        name: (r["status"], r["checked"], r["latency_ms"]) for name, r in body["resources"].items()
    } == {
        "http_session": ("up", False, None),
        "number": ("up", False, None),
        "settings": ("up", False, None),
    }
    assert body["resources"]["http_session"]["pool"]["limit"] == 100
    assert body["resources"]["number"]["pool"] is None


@pytest.mark.asyncio
async def test_pool_metrics_gives_each_started_client_by_name(configure: Any) -> None:
    """pool_metrics() reads the started clients' pools, without sending anything."""
    configure("tests.health_checks.PlainContainer")
    before = pool_metrics()
    async with drive_lifespan():
        during = pool_metrics()

    assert before == {}
    assert during == {"http_session": PoolStats(open=0, in_use=0, waiting=0, limit=100)}


@pytest.mark.asyncio
async def test_aiohttp_pool_stats_count_connections_in_use_and_requests_waiting(
    upstream: Upstream,
) -> None:
    """With limit=1, one held request and one queued: 1 open, 1 in use, 1 waiting; then idle;
    a closed session has no pool."""
    async with asynccontextmanager(client_session)(base_url=upstream.url, limit=1) as session:

        async def fetch(path: str) -> str:
            async with session.get(path) as response:
                return await response.text()

        holder = asyncio.create_task(fetch("/hold"))
        await upstream.wait_until_held()
        waiter = asyncio.create_task(fetch("/echo"))
        while aiohttp_pool_stats(session).waiting == 0:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0)
        during = aiohttp_pool_stats(session)
        upstream.release()
        assert (await holder, await waiter) == ("released", "ok")
        after = aiohttp_pool_stats(session)
    closed = aiohttp_pool_stats(session)

    assert during == PoolStats(open=1, in_use=1, waiting=1, limit=1)
    assert after == PoolStats(open=1, in_use=0, waiting=0, limit=1)
    assert closed == PoolStats(open=0, in_use=0, waiting=0, limit=0)


def test_lifespan_check_ping_runs_the_checks_between_startup_and_shutdown(
    configure: Any,
) -> None:
    """--ping prints each resource's health after the startup lines; all up: success."""
    configure(
        "tests.health_checks.PlainContainer",
        HEALTH_CHECKS={"http_session": "tests.health_checks.flaky"},
    )
    out = StringIO()
    call_command("lifespan_check", "--ping", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("health")] == [
        ["health", "http_session"],
        ["health", "number"],
        ["health", "settings"],
    ]
    assert next(line for line in lines if line.startswith("health")).endswith(" up")
    assert any(line.endswith("up (no check)") for line in lines)
    assert lines[-1] == "lifespan startup and shutdown succeeded"


def test_lifespan_check_ping_fails_naming_the_resources_down(configure: Any) -> None:
    """A check that fails makes the command fail, naming the resource and its error."""
    configure(
        "tests.health_checks.PlainContainer",
        HEALTH_CHECKS={"http_session": "tests.health_checks.flaky"},
    )
    health_checks.down["http_session"] = "upstream went away"
    out = StringIO()
    with pytest.raises(CommandError, match="health check failed: http_session"):
        call_command("lifespan_check", "--ping", stdout=out)

    assert "DOWN: ConnectionError: upstream went away" in out.getvalue()


def test_lifespan_check_without_ping_runs_no_check(configure: Any) -> None:
    """Without --ping, the command runs no health check."""
    configure(
        "tests.health_checks.PlainContainer",
        HEALTH_CHECKS={"http_session": "tests.health_checks.flaky"},
    )
    call_command("lifespan_check", stdout=StringIO())

    assert health_checks.checked == []


@pytest.mark.asyncio
async def test_the_how_tos_logging_exporter_logs_each_pool(
    configure: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The logging example of the pool-metrics how-to writes one line per started client."""
    configure()
    async with drive_lifespan():
        with caplog.at_level("INFO", logger="myproject.pools"):
            health_checks.log_pool_metrics()

    assert [
        record.getMessage() for record in caplog.records if record.name == "myproject.pools"
    ] == [
        "pool http_session: 0 open, 0 in use, 0 waiting (limit 100)",
        "pool httpx_client: 0 open, 0 in use, 0 waiting (limit 100)",
    ]
