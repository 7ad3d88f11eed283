"""``client_session``: safe defaults, validated options, no cookies or headers shared by users."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from django.test import AsyncClient

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import DEFAULT_TIMEOUT, client_session
from tests.driver import drive_lifespan
from tests.upstream import Upstream

open_session = asynccontextmanager(client_session)

SessionFactory = Callable[[str], AbstractAsyncContextManager[aiohttp.ClientSession]]


@asynccontextmanager
async def shared_session(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session(base_url=base_url) as session:
        yield session


@asynccontextmanager
async def opted_in_cookie_session(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session(base_url=base_url, cookie_jar=aiohttp.CookieJar()) as session:
        yield session


@asynccontextmanager
async def default_aiohttp_session(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=base_url) as session:
        yield session


async def fetch_as(
    session: aiohttp.ClientSession, user: str | None = None, cookies: dict[str, str] | None = None
) -> None:
    headers = {"X-User": user} if user else {}
    async with session.get("/data", headers=headers, cookies=cookies) as response:
        assert response.status == 200
        await response.read()


@pytest.fixture(name="connectors")
def fixture_connectors(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.TCPConnector]:
    """Every TCPConnector client_session makes during the test, recorded."""
    made: list[aiohttp.TCPConnector] = []
    real = aiohttp.TCPConnector

    def recording(*args: Any, **kwargs: Any) -> aiohttp.TCPConnector:
        connector = real(*args, **kwargs)
        made.append(connector)
        return connector

    monkeypatch.setattr(aiohttp, "TCPConnector", recording)
    return made


@pytest.mark.asyncio
async def test_defaults_keep_no_cookies_and_bound_time_and_connections() -> None:
    """By default: no cookie jar, 30 s per request, at most 100 connections, no per-host bound."""
    async with open_session() as session:
        assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)
        assert session.timeout == DEFAULT_TIMEOUT
        assert session.timeout.total == 30
        assert isinstance(session.connector, aiohttp.TCPConnector)
        assert session.connector.limit == 100
        assert session.connector.limit_per_host == 0


@pytest.mark.asyncio
async def test_base_url_and_headers_are_used_for_requests(upstream: Upstream) -> None:
    """A relative path goes to base_url, and the session's headers go with every request."""
    async with open_session(base_url=upstream.url, headers={"X-User": "service"}) as session:
        await fetch_as(session)

    assert upstream.requests == [{"cookie": "", "user": "service"}]


@pytest.mark.parametrize(("limit", "limit_per_host"), [(1, 0), (7, 3), (0, 0)])
@pytest.mark.asyncio
async def test_limits_bound_the_connection_pool(limit: int, limit_per_host: int) -> None:
    """limit and limit_per_host are handed to the connector as given (0 means no bound)."""
    async with open_session(limit=limit, limit_per_host=limit_per_host) as session:
        assert isinstance(session.connector, aiohttp.TCPConnector)
        assert session.connector.limit == limit
        assert session.connector.limit_per_host == limit_per_host


@pytest.mark.parametrize("seconds", [2.5, 1, 600])
@pytest.mark.asyncio
async def test_numeric_timeout_is_the_total_for_a_request(seconds: float) -> None:
    """A number of seconds becomes ClientTimeout(total=seconds)."""
    async with open_session(timeout=seconds) as session:
        assert session.timeout == aiohttp.ClientTimeout(total=seconds)


@pytest.mark.asyncio
async def test_client_timeout_is_used_as_given() -> None:
    """A ClientTimeout is passed through unchanged."""
    timeout = aiohttp.ClientTimeout(total=3, sock_read=1)
    async with open_session(timeout=timeout) as session:
        assert session.timeout == timeout


@pytest.mark.asyncio
async def test_explicit_cookie_jar_is_an_opt_in() -> None:
    """A cookie_jar passed explicitly is the one the session uses."""
    jar = aiohttp.CookieJar()
    async with open_session(cookie_jar=jar) as session:
        assert session.cookie_jar is jar


@pytest.mark.asyncio
async def test_other_keywords_go_to_the_client_session() -> None:
    """Keywords client_session does not know are handed to aiohttp.ClientSession."""
    async with open_session(trust_env=True, auto_decompress=False) as session:
        assert session.trust_env is True
        assert session.auto_decompress is False


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("timeout", 0, ValueError),
        ("timeout", -1, ValueError),
        ("timeout", math.nan, ValueError),
        ("timeout", math.inf, ValueError),
        ("timeout", "x", TypeError),
        ("timeout", True, TypeError),
        ("limit", -1, ValueError),
        ("limit", True, ValueError),
        ("limit", 1.5, ValueError),
        ("limit", "10", ValueError),
        ("limit_per_host", -1, ValueError),
        ("limit_per_host", False, ValueError),
        ("limit_per_host", 2.0, ValueError),
    ],
)
@pytest.mark.asyncio
async def test_bad_value_is_refused_naming_the_parameter_and_leaves_nothing_open(
    connectors: list[aiohttp.TCPConnector], option: str, value: object, error: type[Exception]
) -> None:
    """A bad timeout or limit raises a message naming the parameter; no connector stays open."""
    with pytest.raises(error, match=rf"client_session\({option}=\.\.\.\)"):
        async with open_session(**{option: value}):
            pytest.fail("a session was opened")  # pragma: no cover

    assert [connector.closed for connector in connectors] == [True] * len(connectors)


@pytest.mark.asyncio
async def test_session_refused_by_aiohttp_does_not_leave_its_connector_open(
    connectors: list[aiohttp.TCPConnector],
) -> None:
    """When aiohttp.ClientSession() itself refuses an option, the connector made for it closes."""
    with pytest.raises(ValueError, match="trailing"):
        async with open_session(base_url="http://localhost/api"):
            pytest.fail("a session was opened")  # pragma: no cover

    assert len(connectors) == 1
    assert connectors[0].closed


@pytest.mark.asyncio
async def test_resource_shutdown_closes_the_session() -> None:
    """A LifespanResource over client_session closes its session when it shuts down."""
    resource: LifespanResource[aiohttp.ClientSession] = LifespanResource(client_session)
    session = await resource()
    connector = session.connector
    assert connector is not None
    assert not session.closed

    await resource.shutdown()

    assert session.closed
    assert connector.closed


@pytest.mark.asyncio
async def test_sequential_requests_reuse_one_connection(upstream: Upstream) -> None:
    """50 requests one after the other go over a single kept-alive connection."""
    async with open_session(base_url=upstream.url) as session:
        for _ in range(50):
            await fetch_as(session)

    assert len(upstream.requests) == 50
    assert len(upstream.connections) == 1


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.asyncio
async def test_concurrent_requests_stay_within_the_connection_limit(
    upstream: Upstream, limit: int
) -> None:
    """50 overlapping requests never open more connections than ``limit``."""
    upstream.delay = 0.002  # the upstream holds each request a little, so that they overlap
    async with open_session(base_url=upstream.url, limit=limit) as session:
        await asyncio.gather(*(fetch_as(session) for _ in range(50)))

    assert len(upstream.requests) == 50
    assert 1 <= len(upstream.connections) <= limit


@pytest.mark.parametrize(
    ("factory", "leaks"),
    [
        pytest.param(shared_session, False, id="client_session"),
        pytest.param(opted_in_cookie_session, True, id="client_session-with-cookie_jar"),
        pytest.param(default_aiohttp_session, True, id="aiohttp-default-control"),
    ],
)
@pytest.mark.asyncio
async def test_one_users_cookie_reaches_another_only_with_a_cookie_jar(
    upstream: Upstream, factory: SessionFactory, leaks: bool
) -> None:
    """The upstream's cookie for user A is sent on user B's request only if a jar keeps it."""
    async with factory(upstream.url) as session:
        await fetch_as(session, "A")
        await fetch_as(session, "B")

    assert [seen["user"] for seen in upstream.requests] == ["A", "B"]
    assert upstream.requests[0]["cookie"] == ""
    assert ("secret-of-A" in upstream.requests[1]["cookie"]) is leaks


@pytest.mark.asyncio
async def test_header_and_cookie_of_one_request_are_not_sent_on_the_next(
    upstream: Upstream,
) -> None:
    """A header or cookie passed for one request does not stick to the shared session."""
    async with open_session(base_url=upstream.url) as session:
        await fetch_as(session, "A", cookies={"token": "of-A"})
        await fetch_as(session)

    assert [seen["user"] for seen in upstream.requests] == ["A", ""]
    assert "token=of-A" in upstream.requests[0]["cookie"]
    assert upstream.requests[1]["cookie"] == ""


@pytest.mark.asyncio
@pytest.mark.usefixtures("container")
async def test_users_of_the_proxy_view_share_no_cookie_and_no_header(upstream: Upstream) -> None:
    """Through the view and the session started by lifespan, B never carries A's cookie."""
    async with drive_lifespan():
        client = AsyncClient()
        for query in ["?user=A", "?user=B", "", "?user=A"]:
            response = await client.get(f"/proxy{query}")
            assert response.status_code == 200

    assert [seen["user"] for seen in upstream.requests] == ["A", "B", "", "A"]
    assert [seen["cookie"] for seen in upstream.requests] == ["", "", "", ""]


@pytest.mark.asyncio
async def test_proxy_view_leaks_cookies_with_a_default_aiohttp_session(
    container: Any, upstream: Upstream
) -> None:
    """Control: the same view over a default aiohttp.ClientSession does send A's cookie to B."""

    async def default_session(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession(base_url=base_url) as session:
            yield session

    leaky: LifespanResource[aiohttp.ClientSession] = LifespanResource(
        default_session, base_url=upstream.url
    )
    container.http_session.override(leaky)
    try:
        client = AsyncClient()
        for query in ["?user=A", "?user=B"]:
            response = await client.get(f"/proxy{query}")
            assert response.status_code == 200
    finally:
        container.http_session.reset_override()
        await leaky.shutdown()

    assert [seen["user"] for seen in upstream.requests] == ["A", "B"]
    assert "secret-of-A" in upstream.requests[1]["cookie"]
