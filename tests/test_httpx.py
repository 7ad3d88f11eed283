"""``async_client``: the httpx client with the safe defaults of ``client_session``."""

from __future__ import annotations

import asyncio
import logging
import math
import pickle
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from django.test import AsyncClient, Client, override_settings

from django_lifespan_di import LifespanResource, _container, get_container
from django_lifespan_di.aiohttp import OriginError as AiohttpOriginError
from django_lifespan_di.httpx import (
    DEFAULT_TIMEOUT,
    OriginError,
    PoolTimeoutError,
    SharedClientError,
    async_client,
    pool_stats,
)
from tests.driver import drive_lifespan
from tests.upstream import Seen, Upstream

open_client = asynccontextmanager(async_client)

ClientFactory = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]
API_KEY = {"X-Api-Key": "secret-of-the-service"}
HEALTH_SETTINGS = {
    "DJANGO_LIFESPAN_DI": {"CONTAINER": "tests.health_project.Container", "HEALTH_TIMEOUT": 2},
    "ROOT_URLCONF": "tests.health_project",
}


@asynccontextmanager
async def shared_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(base_url=base_url) as client:
        yield client


@asynccontextmanager
async def opted_in_cookie_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(base_url=base_url, cookies=httpx.Cookies()) as client:
        yield client


@asynccontextmanager
async def default_httpx_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        yield client


async def fetch_as(client: httpx.AsyncClient, user: str | None = None) -> None:
    response = await client.get("/data", headers={"X-User": user} if user else {})
    assert response.status_code == 200


@pytest.fixture(name="health_container")
def fixture_health_container(upstream: Upstream) -> Iterator[Any]:
    """The container of tests.health_project (both clients), its URLconf, built afresh."""
    with override_settings(**HEALTH_SETTINGS):
        _container.setup()
        yield get_container()
    _container.setup()


@pytest.mark.asyncio
async def test_defaults_bound_time_and_connections() -> None:
    """By default: 10 s to connect, 30 s per read, write and pool wait; at most 100 connections."""
    async with open_client() as client:
        assert client.timeout == DEFAULT_TIMEOUT
        assert (client.timeout.connect, client.timeout.read, client.timeout.pool) == (10, 30, 30)
        assert pool_stats(client).limit == 100


@pytest.mark.parametrize("limit", [1, 7, 0])
@pytest.mark.asyncio
async def test_limit_bounds_the_connection_pool(limit: int) -> None:
    """limit is the pool's bound as given (0 means no bound)."""
    async with open_client(limit=limit) as client:
        assert pool_stats(client).limit == limit


@pytest.mark.parametrize("seconds", [2.5, 1, 600])
@pytest.mark.asyncio
async def test_numeric_timeout_applies_to_each_phase(seconds: float) -> None:
    """A number of seconds becomes httpx.Timeout(seconds): connect, read, write and pool."""
    async with open_client(timeout=seconds) as client:
        assert client.timeout == httpx.Timeout(seconds)


@pytest.mark.asyncio
async def test_other_keywords_go_to_the_client_and_its_transport() -> None:
    """Keywords async_client does not know go to httpx.AsyncClient (trust_env to both)."""
    async with open_client(trust_env=False, follow_redirects=True, http1=True) as client:
        assert client.trust_env is False
        assert client.follow_redirects is True


@pytest.mark.parametrize(
    ("option", "value", "error", "match"),
    [
        ("timeout", 0, ValueError, "timeout"),
        ("timeout", -1, ValueError, "timeout"),
        ("timeout", math.nan, ValueError, "timeout"),
        ("timeout", math.inf, ValueError, "timeout"),
        ("timeout", "x", TypeError, "timeout"),
        ("timeout", True, TypeError, "timeout"),
        ("limit", -1, ValueError, "limit"),
        ("limit", True, ValueError, "limit"),
        ("limit", 1.5, ValueError, "limit"),
        ("limits", httpx.Limits(), TypeError, "limits"),
    ],
)
@pytest.mark.asyncio
async def test_bad_value_is_refused_naming_the_parameter(
    option: str, value: object, error: type[Exception], match: str
) -> None:
    """A bad timeout or limit (or httpx's own limits=) raises a message naming the parameter."""
    with pytest.raises(error, match=rf"async_client\({match}=\.\.\.\)"):
        async with open_client(**{option: value}):
            pytest.fail("a client was opened")  # pragma: no cover


@pytest.mark.parametrize("own_transport", [False, True])
@pytest.mark.asyncio
async def test_client_refused_by_httpx_does_not_leave_its_transport_open(
    monkeypatch: pytest.MonkeyPatch, own_transport: bool
) -> None:
    """When httpx.AsyncClient() itself refuses an option, the transport made for it closes (a
    transport of the caller's is the caller's)."""
    closed: list[httpx.AsyncBaseTransport] = []
    real = httpx.AsyncHTTPTransport.aclose

    async def recording(self: httpx.AsyncHTTPTransport) -> None:
        closed.append(self)
        await real(self)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "aclose", recording)
    options: dict[str, Any] = {"no_such_option": 1}
    if own_transport:
        options["transport"] = httpx.AsyncHTTPTransport()
    with pytest.raises(TypeError, match="unexpected keyword"):
        async with open_client(**options):
            pytest.fail("a client was opened")  # pragma: no cover

    assert len(closed) == (0 if own_transport else 1)
    if own_transport:
        await options["transport"].aclose()


@pytest.mark.asyncio
async def test_resource_shutdown_closes_the_client() -> None:
    """A LifespanResource over async_client closes its client when it shuts down."""
    resource: LifespanResource[httpx.AsyncClient] = LifespanResource(async_client)
    client = await resource()
    assert not client.is_closed

    await resource.shutdown()

    assert client.is_closed


@pytest.mark.asyncio
async def test_sequential_requests_reuse_one_connection(upstream: Upstream) -> None:
    """50 requests one after the other go over a single kept-alive connection."""
    async with open_client(base_url=upstream.url) as client:
        for _ in range(50):
            await fetch_as(client)

    assert len(upstream.requests) == 50
    assert len(upstream.connections) == 1


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.asyncio
async def test_concurrent_requests_stay_within_the_connection_limit(
    upstream: Upstream, limit: int
) -> None:
    """50 overlapping requests never open more connections than ``limit``."""
    upstream.delay = 0.002
    async with open_client(base_url=upstream.url, limit=limit) as client:
        await asyncio.gather(*(fetch_as(client) for _ in range(50)))

    assert len(upstream.requests) == 50
    assert 1 <= len(upstream.connections) <= limit


@pytest.mark.parametrize(
    ("factory", "leaks"),
    [
        pytest.param(shared_client, False, id="async_client"),
        pytest.param(opted_in_cookie_client, True, id="async_client-with-cookies"),
        pytest.param(default_httpx_client, True, id="httpx-default-control"),
    ],
)
@pytest.mark.asyncio
async def test_one_users_cookie_reaches_another_only_with_a_cookie_jar(
    upstream: Upstream, factory: ClientFactory, leaks: bool
) -> None:
    """On host localhost, user A's upstream cookie reaches B's request only if a jar keeps it."""
    assert upstream.url.startswith("http://localhost:")  # IP hosts would hide the leak
    async with factory(upstream.url) as client:
        await fetch_as(client, "A")
        await fetch_as(client, "B")

    assert [seen["user"] for seen in upstream.requests] == ["A", "B"]
    assert upstream.requests[0]["cookie"] == ""
    assert ("secret-of-A" in upstream.requests[1]["cookie"]) is leaks


@pytest.mark.asyncio
async def test_a_cookie_set_on_the_client_is_not_kept_either(upstream: Upstream) -> None:
    """client.cookies.set() is ignored too: the shared client has nowhere to keep a cookie."""
    async with open_client(base_url=upstream.url) as client:
        client.cookies.set("token", "of-A")
        await fetch_as(client)

    assert upstream.requests[0]["cookie"] == ""


@pytest.mark.asyncio
async def test_users_of_the_httpx_proxy_view_share_no_cookie(
    health_container: Any, upstream: Upstream
) -> None:
    """Through the view and the client started by lifespan, B never carries A's cookie."""
    async with drive_lifespan():
        client = AsyncClient()
        for query in ["?user=A", "?user=B", "", "?user=A"]:
            response = await client.get(f"/proxy-httpx{query}")
            assert response.status_code == 200
        assert len({response.json()["client"]}) == 1

    assert [seen["user"] for seen in upstream.requests] == ["A", "B", "", "A"]
    assert [seen["cookie"] for seen in upstream.requests] == ["", "", "", ""]


@pytest.mark.asyncio
async def test_httpx_proxy_view_leaks_cookies_with_a_default_client(
    health_container: Any, upstream: Upstream
) -> None:
    """Control: the same view over a default httpx.AsyncClient does send A's cookie to B."""

    async def default_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=base_url) as client:
            yield client

    leaky: LifespanResource[httpx.AsyncClient] = LifespanResource(
        default_client, base_url=upstream.url
    )
    health_container.httpx_client.override(leaky)
    try:
        client = AsyncClient()
        for query in ["?user=A", "?user=B"]:
            assert (await client.get(f"/proxy-httpx{query}")).status_code == 200
    finally:
        health_container.httpx_client.reset_override()
        await leaky.shutdown()

    assert "secret-of-A" in upstream.requests[1]["cookie"]


def test_each_request_loop_of_the_sync_client_gets_its_own_client_closed_with_it(
    health_container: Any, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request of Django's sync Client runs in a new loop (as under runserver): a client
    per loop, each closed with its loop, none used on another loop."""
    made: list[httpx.AsyncClient] = []

    def record(request: httpx.Request) -> None:
        pass

    async def recording(**options: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with open_client(**options) as client:
            made.append(client)
            yield client

    health_container.httpx_client.override(LifespanResource(recording, base_url=upstream.url))
    try:
        with caplog.at_level(logging.DEBUG):
            responses = [Client().get("/proxy-httpx") for _ in range(10)]
    finally:
        health_container.httpx_client.reset_override()

    assert [response.status_code for response in responses] == [200] * 10
    assert len({id(client) for client in made}) == 10
    assert [response.json()["client"] for response in responses] == [id(c) for c in made]
    assert [client.is_closed for client in made] == [True] * 10
    assert not [r for r in caplog.records if "Event loop is closed" in r.getMessage()]


# Origin guard ----------------------------------------------------------------------------------


def seen_at(upstream: Upstream, url: str) -> list[Seen]:
    origin = httpx.URL(url)
    return [seen for seen in upstream.log if seen.host == f"{origin.host}:{origin.port}"]


@pytest.mark.parametrize("kind", ["other-host", "other-port", "other-scheme", "as-httpx-URL"])
@pytest.mark.asyncio
async def test_request_to_another_origin_is_refused_naming_base_url_the_url_and_the_fix(
    upstream: Upstream, kind: str
) -> None:
    """With base_url, a URL on another origin raises OriginError and nothing is sent."""
    url: Any = {
        "other-host": f"{upstream.other_origin_url}/echo",
        "other-port": "http://localhost:9/echo",
        "other-scheme": f"https://localhost:{upstream.port}/echo",
        "as-httpx-URL": httpx.URL(f"{upstream.other_origin_url}/echo"),
    }[kind]
    async with open_client(base_url=upstream.url, headers=API_KEY) as client:
        with pytest.raises(OriginError) as refused:
            await client.get(url)

    message = str(refused.value)
    assert f"async_client(base_url={upstream.url!r})" in message
    assert repr(str(url)) in message
    assert "allow_other_origins=True" in message
    assert isinstance(refused.value, AiohttpOriginError)  # one error type for both clients
    assert (refused.value.base_origin, refused.value.factory) == (upstream.url, "async_client")
    assert upstream.log == []


@pytest.mark.parametrize("form", ["path", "absolute", "host-in-capitals", "default-port"])
@pytest.mark.asyncio
async def test_a_url_on_the_base_origin_in_any_form_gets_the_default_headers(
    upstream: Upstream, form: str
) -> None:
    """A path, or an absolute URL on base_url's origin, goes with the client's headers."""
    url = {
        "path": "/echo",
        "absolute": f"{upstream.url}/echo",
        "host-in-capitals": f"http://LOCALHOST:{upstream.port}/echo",
        "default-port": f"{upstream.url}/echo",
    }[form]
    async with open_client(base_url=upstream.url, headers=API_KEY) as client:
        assert (await client.get(url)).status_code == 200

    assert [seen.headers.get("x-api-key") for seen in upstream.log] == [API_KEY["X-Api-Key"]]


@pytest.mark.parametrize("header", [API_KEY, {"Authorization": "Bearer secret-of-the-service"}])
@pytest.mark.parametrize("allow_other_origins", [False, True])
@pytest.mark.asyncio
async def test_default_headers_never_follow_a_redirect_to_another_origin(
    upstream: Upstream, header: dict[str, str], allow_other_origins: bool
) -> None:
    """A redirect to another origin is refused, or (if allowed) followed without the defaults."""
    target = f"{upstream.other_origin_url}/echo"
    async with open_client(
        base_url=upstream.url,
        headers=header,
        allow_other_origins=allow_other_origins,
        follow_redirects=True,
    ) as client:
        if allow_other_origins:
            response = await client.get("/redirect", params={"to": target})
            assert (response.status_code, response.text) == (200, "ok")
        else:
            with pytest.raises(OriginError, match=r"refused a request to 'http://127\.0\.0\.1"):
                await client.get("/redirect", params={"to": target})

    name = next(iter(header)).lower()
    assert [seen.headers.get(name) for seen in seen_at(upstream, upstream.url)] == [
        *header.values()
    ]
    assert [seen.headers.get(name) for seen in seen_at(upstream, target)] == (
        [None] if allow_other_origins else []
    )


@pytest.mark.asyncio
async def test_redirect_back_to_base_url_gets_the_default_headers_again(upstream: Upstream) -> None:
    """base_url -> other origin -> base_url: the defaults are sent on the base_url hops only."""
    back = f"{upstream.url}/echo"
    away = httpx.URL(f"{upstream.other_origin_url}/redirect", params={"to": back})
    async with open_client(
        base_url=upstream.url, headers=API_KEY, allow_other_origins=True, follow_redirects=True
    ) as client:
        response = await client.get("/redirect", params={"to": str(away)})
        assert response.status_code == 200

    assert [(seen.path, seen.headers.get("x-api-key")) for seen in upstream.log] == [
        ("/redirect", API_KEY["X-Api-Key"]),
        ("/redirect", None),
        ("/echo", API_KEY["X-Api-Key"]),
    ]


@pytest.mark.asyncio
async def test_headers_passed_for_a_request_are_the_callers_business(upstream: Upstream) -> None:
    """An explicit header replaces the default of its name and goes to an allowed origin too."""
    mine = {"X-Api-Key": "the-callers-own"}
    async with open_client(
        base_url=upstream.url, headers=API_KEY, allow_other_origins=True
    ) as client:
        for url in ["/echo", f"{upstream.other_origin_url}/echo"]:
            assert (await client.get(url, headers=mine)).status_code == 200

    assert [seen.headers.get("x-api-key") for seen in upstream.log] == ["the-callers-own"] * 2


@pytest.mark.asyncio
async def test_without_base_url_the_headers_go_to_every_origin_as_in_httpx(
    upstream: Upstream,
) -> None:
    """Without base_url nothing is refused and the headers go with every request (unchanged)."""
    async with open_client(headers=API_KEY) as client:
        for url in [f"{upstream.url}/echo", f"{upstream.other_origin_url}/echo"]:
            assert (await client.get(url)).status_code == 200

    assert [seen.headers.get("x-api-key") for seen in upstream.log] == [API_KEY["X-Api-Key"]] * 2


@pytest.mark.asyncio
async def test_request_hooks_of_the_caller_are_kept_under_the_origin_guard(
    upstream: Upstream,
) -> None:
    """event_hooks passed to async_client still run, and other origins are still refused."""
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(str(request.url))

    async with open_client(base_url=upstream.url, event_hooks={"request": [record]}) as client:
        assert (await client.get("/echo")).status_code == 200
        with pytest.raises(OriginError):
            await client.get(f"{upstream.other_origin_url}/echo")

    assert seen == [f"{upstream.url}/echo", f"{upstream.other_origin_url}/echo"]
    assert len(upstream.log) == 1


# Pool timeout and pool numbers -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_timeout_waiting_for_the_full_pool_names_the_limit_and_the_settings(
    upstream: Upstream,
) -> None:
    """A request that times out waiting for the full pool raises PoolTimeoutError, a timeout;
    meanwhile pool_stats shows the pool full and the request waiting."""
    async with open_client(base_url=upstream.url, limit=1) as client:
        holder = asyncio.create_task(client.get("/hold"))
        await upstream.wait_until_held()
        waiter = asyncio.create_task(client.get("/echo", timeout=httpx.Timeout(5, pool=0.3)))
        # Bounded by the waiter's pool timeout; httpx has no event to wait on.
        while pool_stats(client).waiting == 0:  # noqa: ASYNC110
            await asyncio.sleep(0)
        during = pool_stats(client)
        with pytest.raises(PoolTimeoutError) as timed_out:
            await waiter
        upstream.release()
        assert (await holder).text == "released"
        after = pool_stats(client)

    assert (during.open, during.in_use, during.waiting, during.limit) == (1, 1, 1, 1)
    assert (after.open, after.in_use, after.waiting) == (1, 0, 0)
    error = timed_out.value
    assert isinstance(error, httpx.PoolTimeout)
    assert isinstance(error.__cause__, httpx.PoolTimeout)
    message = str(error)
    assert f"{upstream.url}/echo" in message
    assert "async_client(limit=1)" in message
    assert error.request.url == f"{upstream.url}/echo"
    assert [seen.path for seen in upstream.log] == ["/hold"]


@pytest.mark.asyncio
async def test_slow_upstream_with_a_free_pool_times_out_as_httpx_does(upstream: Upstream) -> None:
    """Control: a timeout with a connection in hand stays httpx's own ReadTimeout."""
    async with open_client(base_url=upstream.url, limit=1) as client:
        with pytest.raises(httpx.ReadTimeout) as timed_out:
            await client.get("/hold", timeout=0.2)
        upstream.release()
        assert (await client.get("/echo")).text == "ok"

    assert not isinstance(timed_out.value, PoolTimeoutError)


@pytest.mark.asyncio
async def test_pool_stats_of_a_client_with_another_transport_is_refused() -> None:
    """pool_stats reads an AsyncHTTPTransport's pool; another transport is a TypeError."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with open_client(transport=transport) as client:
        with pytest.raises(TypeError, match="AsyncHTTPTransport"):
            pool_stats(client)
        assert (await client.get("http://localhost/")).status_code == 200


# The shared client cannot be closed by its users -----------------------------------------------


async def aclose(client: httpx.AsyncClient) -> None:
    await client.aclose()


async def use_as_context_manager(client: httpx.AsyncClient) -> None:
    async with client:
        pytest.fail("entered")  # pragma: no cover


@pytest.mark.parametrize(
    ("misuse", "operation"),
    [(aclose, "aclose"), (use_as_context_manager, "__aenter__")],
    ids=["aclose", "async-with"],
)
@pytest.mark.asyncio
async def test_closing_the_shared_client_is_refused_and_it_keeps_working(
    upstream: Upstream, misuse: Callable[[httpx.AsyncClient], Any], operation: str
) -> None:
    """aclose() or ``async with client:`` raise SharedClientError; requests go on."""
    resource: LifespanResource[httpx.AsyncClient] = LifespanResource(
        async_client, base_url=upstream.url
    )
    client = await resource()
    try:
        with pytest.raises(SharedClientError) as refused:
            await misuse(client)
        await fetch_as(client)
        assert not client.is_closed
    finally:
        await resource.shutdown()

    assert client.is_closed
    message = str(refused.value)
    assert f"client.{operation}() refused" in message
    assert "shared by the whole process" in message
    assert refused.value.operation == operation


@pytest.mark.parametrize(
    "error",
    [
        OriginError("http://localhost:1", "http://elsewhere/", "async_client"),
        PoolTimeoutError("http://localhost:1/data", 1),
        SharedClientError("aclose"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_survive_pickling_with_their_fields_and_message(error: Exception) -> None:
    """Each error pickles (as Django's parallel runner does), keeping its fields and message."""
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error)
    assert {k: v for k, v in vars(copy).items() if k != "_request"} == {
        k: v for k, v in vars(error).items() if k != "_request"
    }
    assert str(copy) == str(error)
