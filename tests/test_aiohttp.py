"""``client_session``: safe defaults, validated options, no cookies or headers shared by users."""

from __future__ import annotations

import asyncio
import math
import pickle
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from django.test import AsyncClient
from yarl import URL

from django_lifespan_di import LifespanResource
from django_lifespan_di.aiohttp import (
    DEFAULT_TIMEOUT,
    OriginError,
    PoolTimeoutError,
    SharedSessionError,
    client_session,
)
from tests.driver import drive_lifespan
from tests.upstream import Seen, Upstream

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


# Origin guard ----------------------------------------------------------------------------------

API_KEY = {"X-Api-Key": "secret-of-the-service"}


def seen_at(upstream: Upstream, url: str) -> list[Seen]:
    """The requests the upstream saw addressed to the origin of url."""
    origin = URL(url)
    return [seen for seen in upstream.log if seen.host == f"{origin.host}:{origin.port}"]


def other_origins(upstream: Upstream) -> dict[str, str]:
    """URLs of /echo on origins other than upstream.url, by kind (the first two reach it)."""
    return {
        "other-host": f"{upstream.other_origin_url}/echo",
        "scheme-relative": f"//127.0.0.1:{upstream.port}/echo",
        "other-port": "http://localhost:9/echo",
        "other-scheme": f"https://localhost:{upstream.port}/echo",
    }


@pytest.mark.parametrize(
    "kind", ["other-host", "scheme-relative", "other-port", "other-scheme", "as-yarl-URL"]
)
@pytest.mark.asyncio
async def test_request_to_another_origin_is_refused_naming_base_url_the_url_and_the_fix(
    upstream: Upstream, kind: str
) -> None:
    """With base_url, a URL on another origin raises OriginError and nothing is sent."""
    url: Any = other_origins(upstream).get(kind) or URL(f"{upstream.other_origin_url}/echo")
    async with open_session(base_url=upstream.url, headers=API_KEY) as session:
        with pytest.raises(OriginError) as refused:
            await session.get(url)

    message = str(refused.value)
    assert repr(upstream.url) in message
    assert repr(str(url)) in message
    assert "allow_other_origins=True" in message
    assert ("//host/..." in message) is (kind == "scheme-relative")
    assert (refused.value.base_origin, refused.value.url) == (upstream.url, str(url))
    assert upstream.log == []


@pytest.mark.parametrize(
    "method", ["get", "options", "head", "post", "put", "patch", "delete", "ws_connect", "request"]
)
@pytest.mark.asyncio
async def test_every_request_method_refuses_another_origin(upstream: Upstream, method: str) -> None:
    """Each method that takes a URL raises OriginError, and sends nothing."""
    url = f"{upstream.other_origin_url}/echo"
    async with open_session(base_url=upstream.url) as session:
        call = getattr(session, method)
        with pytest.raises(OriginError):
            await (call("GET", url) if method == "request" else call(url))

    assert upstream.log == []


@pytest.mark.parametrize("method", ["get", "request"])
@pytest.mark.parametrize("form", ["path", "absolute", "host-in-capitals"])
@pytest.mark.asyncio
async def test_a_url_on_the_base_origin_in_any_form_gets_the_default_headers(
    upstream: Upstream, form: str, method: str
) -> None:
    """A path, or an absolute URL on base_url's origin, goes with the session's headers."""
    url = {
        "path": "/echo",
        "absolute": f"{upstream.url}/echo",
        "host-in-capitals": f"http://LOCALHOST:{upstream.port}/echo",
    }[form]
    async with open_session(base_url=upstream.url, headers=API_KEY) as session:
        call = session.request("GET", url) if method == "request" else session.get(url)
        async with call as response:
            assert response.status == 200

    assert [seen.headers.get("x-api-key") for seen in upstream.log] == [API_KEY["X-Api-Key"]]


@pytest.mark.asyncio
async def test_an_invalid_url_gets_aiohttps_own_error(upstream: Upstream) -> None:
    """A string that is no URL is left to aiohttp, which says so (InvalidUrlClientError)."""
    async with open_session(base_url=upstream.url) as session:
        with pytest.raises(aiohttp.InvalidUrlClientError):
            await session.get("http://[not-an-address/echo")


@pytest.mark.parametrize("header", [API_KEY, {"Authorization": "Bearer secret-of-the-service"}])
@pytest.mark.parametrize("allow_other_origins", [False, True])
@pytest.mark.asyncio
async def test_default_headers_never_follow_a_redirect_to_another_origin(
    upstream: Upstream, header: dict[str, str], allow_other_origins: bool
) -> None:
    """A redirect to another origin is refused, or (if allowed) followed without the defaults."""
    target = f"{upstream.other_origin_url}/echo"
    async with open_session(
        base_url=upstream.url, headers=header, allow_other_origins=allow_other_origins
    ) as session:
        if allow_other_origins:
            async with session.get("/redirect", params={"to": target}) as response:
                assert (response.status, await response.text()) == (200, "ok")
        else:
            with pytest.raises(OriginError, match=r"refused a request to 'http://127\.0\.0\.1"):
                await session.get("/redirect", params={"to": target})

    name = next(iter(header)).lower()
    assert [seen.headers.get(name) for seen in seen_at(upstream, upstream.url)] == [
        *header.values()
    ]
    assert [seen.headers.get(name) for seen in seen_at(upstream, target)] == (
        [None] if allow_other_origins else []
    )


@pytest.mark.parametrize("kind", ["other-host", "as-yarl-URL"])
@pytest.mark.asyncio
async def test_allowed_other_origin_gets_the_request_but_not_the_default_headers(
    upstream: Upstream, kind: str
) -> None:
    """allow_other_origins=True sends the request; the default headers stay on base_url."""
    url = f"{upstream.other_origin_url}/echo"
    async with open_session(
        base_url=upstream.url, headers=API_KEY, allow_other_origins=True
    ) as session:
        async with session.get(url if kind == "other-host" else URL(url)) as response:
            assert response.status == 200
        async with session.get("/echo") as response:
            assert response.status == 200

    assert [(seen.host, seen.headers.get("x-api-key")) for seen in upstream.log] == [
        (f"127.0.0.1:{upstream.port}", None),
        (f"localhost:{upstream.port}", API_KEY["X-Api-Key"]),
    ]


@pytest.mark.asyncio
async def test_redirect_back_to_base_url_gets_the_default_headers_again(upstream: Upstream) -> None:
    """base_url -> other origin -> base_url: the defaults are sent on the base_url hops only."""
    back = f"{upstream.url}/echo"
    away = URL(f"{upstream.other_origin_url}/redirect").with_query(to=back)
    async with (
        open_session(base_url=upstream.url, headers=API_KEY, allow_other_origins=True) as session,
        session.get("/redirect", params={"to": str(away)}) as response,
    ):
        assert response.status == 200

    assert [(seen.path, seen.headers.get("x-api-key")) for seen in upstream.log] == [
        ("/redirect", API_KEY["X-Api-Key"]),
        ("/redirect", None),
        ("/echo", API_KEY["X-Api-Key"]),
    ]


@pytest.mark.asyncio
async def test_headers_passed_for_a_request_are_the_callers_business(upstream: Upstream) -> None:
    """An explicit header replaces the default of its name and goes to an allowed origin too."""
    mine = {"X-Api-Key": "the-callers-own"}
    async with open_session(
        base_url=upstream.url, headers=API_KEY, allow_other_origins=True
    ) as session:
        for url in ["/echo", f"{upstream.other_origin_url}/echo"]:
            async with session.get(url, headers=mine) as response:
                assert response.status == 200

    assert [seen.headers.get("x-api-key") for seen in upstream.log] == ["the-callers-own"] * 2


@pytest.mark.asyncio
async def test_without_base_url_the_headers_go_to_every_origin_as_in_aiohttp(
    upstream: Upstream,
) -> None:
    """Without base_url nothing is refused and the headers go with every request (unchanged)."""
    async with open_session(headers=API_KEY) as session:
        for url in [f"{upstream.url}/echo", f"{upstream.other_origin_url}/echo"]:
            async with session.get(url) as response:
                assert response.status == 200

    assert [seen.headers.get("x-api-key") for seen in upstream.log] == [API_KEY["X-Api-Key"]] * 2


@pytest.mark.asyncio
async def test_a_request_class_of_the_caller_is_kept_under_the_origin_guard(
    upstream: Upstream,
) -> None:
    """A request_class passed to client_session is used, and other origins are still refused."""
    made: list[str] = []

    class Recording(aiohttp.ClientRequest):
        def __init__(self, method: str, url: URL, *args: Any, **kwargs: Any) -> None:
            made.append(str(url))
            super().__init__(method, url, *args, **kwargs)

    target = f"{upstream.other_origin_url}/echo"
    async with open_session(
        base_url=upstream.url, headers=API_KEY, request_class=Recording
    ) as session:
        async with session.get("/echo") as response:
            assert response.status == 200
        with pytest.raises(OriginError):
            await session.get("/redirect", params={"to": target})

    assert made == [f"{upstream.url}/echo", f"{upstream.url}/redirect"]  # its query comes later
    assert [seen.headers.get("x-api-key") for seen in upstream.log] == [API_KEY["X-Api-Key"]] * 2


# Pool timeout ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    [aiohttp.ClientTimeout(total=0.2), aiohttp.ClientTimeout(total=None, connect=0.2)],
    ids=["total", "connect"],
)
@pytest.mark.parametrize(("limit", "limit_per_host"), [(1, 0), (0, 1)])
@pytest.mark.asyncio
async def test_timeout_waiting_for_the_full_pool_names_the_pool_limit_and_the_settings(
    upstream: Upstream, limit: int, limit_per_host: int, timeout: aiohttp.ClientTimeout
) -> None:
    """A request that times out in the queue of a full pool raises PoolTimeoutError, a timeout."""
    async with open_session(
        base_url=upstream.url, limit=limit, limit_per_host=limit_per_host
    ) as session:
        holder = asyncio.create_task(fetch_text(session, "/hold"))
        await upstream.wait_until_held()
        with pytest.raises(PoolTimeoutError) as timed_out:
            await session.get("/echo", timeout=timeout)
        upstream.release()
        assert await holder == "released"

    error = timed_out.value
    assert isinstance(error, asyncio.TimeoutError)
    assert isinstance(error, aiohttp.ServerTimeoutError)
    assert isinstance(error.__cause__, asyncio.TimeoutError)
    message = str(error)
    assert f"{upstream.url}/echo" in message
    assert "all the connections" in message
    assert f"client_session(limit={limit}, limit_per_host={limit_per_host})" in message
    assert "timeout" in message
    assert (error.limit, error.limit_per_host) == (limit, limit_per_host)
    assert [seen.path for seen in upstream.log] == ["/hold"]


@pytest.mark.asyncio
async def test_slow_upstream_with_a_free_pool_times_out_as_aiohttp_does(
    upstream: Upstream,
) -> None:
    """Control: a timeout with a connection in hand stays aiohttp's own TimeoutError."""
    async with open_session(base_url=upstream.url, limit=1) as session:
        with pytest.raises(asyncio.TimeoutError) as timed_out:
            await session.get("/hold", timeout=aiohttp.ClientTimeout(total=0.2))
        upstream.release()
        assert await fetch_text(session, "/echo") == "ok"

    assert not isinstance(timed_out.value, PoolTimeoutError)


@pytest.mark.asyncio
async def test_trace_configs_of_the_caller_are_kept(upstream: Upstream) -> None:
    """trace_configs passed to client_session still see every request."""
    started: list[str] = []

    async def on_start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        started.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with open_session(base_url=upstream.url, trace_configs=[trace]) as session:
        assert await fetch_text(session, "/echo") == "ok"

    assert started == [f"{upstream.url}/echo"]


async def fetch_text(session: aiohttp.ClientSession, path: str) -> str:
    async with session.get(path) as response:
        return await response.text()


# The shared session cannot be closed by its users ----------------------------------------------


async def close(session: aiohttp.ClientSession) -> None:
    await session.close()


async def detach(session: aiohttp.ClientSession) -> None:
    session.detach()


async def use_as_context_manager(session: aiohttp.ClientSession) -> None:
    async with session:
        await fetch_as(session)


@pytest.mark.parametrize(
    ("misuse", "operation"),
    [(close, "close"), (detach, "detach"), (use_as_context_manager, "close")],
    ids=["close", "detach", "async-with"],
)
@pytest.mark.asyncio
async def test_closing_the_shared_session_is_refused_and_it_keeps_working(
    upstream: Upstream, misuse: Callable[[aiohttp.ClientSession], Any], operation: str
) -> None:
    """close(), detach() or ``async with session:`` raise SharedSessionError; requests go on."""
    resource: LifespanResource[aiohttp.ClientSession] = LifespanResource(
        client_session, base_url=upstream.url
    )
    session = await resource()
    try:
        with pytest.raises(SharedSessionError) as refused:
            await misuse(session)
        await fetch_as(session)
        assert not session.closed
    finally:
        await resource.shutdown()

    assert session.closed
    message = str(refused.value)
    assert f"session.{operation}() refused" in message
    assert "shared by the whole process" in message
    assert "django_lifespan_di closes it at shutdown" in message
    assert "async with session.get(...)" in message
    assert refused.value.operation == operation
    assert len(upstream.requests) == 1 + (misuse is use_as_context_manager)


@pytest.mark.parametrize(
    "error",
    [
        OriginError("http://localhost:1", "http://elsewhere/"),
        PoolTimeoutError("http://localhost:1/data", 1, 0),
        SharedSessionError("close"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_survive_pickling_with_their_fields_and_message(error: Exception) -> None:
    """Each error pickles (as Django's parallel runner does), keeping its fields and message."""
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error)
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)
