"""A shared ``httpx.AsyncClient`` with safe defaults for a server-wide client.

Use it as the initializer of a :class:`~django_lifespan_di.LifespanResource`::

    api_client = LifespanResource(async_client, base_url="https://api.example.com")

Needs the ``httpx`` extra: ``python -m pip install "django-lifespan-di[httpx]"``.
"""

from __future__ import annotations

import http.cookiejar
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any, NoReturn

import httpx

from django_lifespan_di._http import OriginError, origin_of, pool_limit, positive_seconds
from django_lifespan_di._probes import Check, PoolStats, attach
from django_lifespan_di.exceptions import SharedClientError

__all__ = [
    "DEFAULT_TIMEOUT",
    "OriginError",
    "PoolTimeoutError",
    "SharedClientError",
    "async_client",
    "pool_stats",
]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""10 s to connect; 30 s for each read, write and wait for a pooled connection."""

_NAME = "async_client"
# Options of httpx.AsyncClient that configure its transport: with the transport made here,
# httpx would ignore them, so they are handed to that transport.
_TRANSPORT_OPTIONS = ("verify", "cert", "http1", "http2", "retries", "trust_env")
# The key, in a request's extensions, of the default headers added to it: httpx copies both
# the headers and the extensions of a request to the next hop of a redirect.
_ADDED = "django_lifespan_di.default_headers"


class PoolTimeoutError(httpx.PoolTimeout):
    """A request timed out while it waited for a free connection of the full pool.

    An ``httpx.PoolTimeout``, hence an ``httpx.TimeoutException``: code catching those keeps
    working; this one says which limit was reached and what to change.
    """

    def __init__(self, url: str, limit: int, request: httpx.Request | None = None) -> None:
        self.url = url
        self.limit = limit
        super().__init__(
            f"The request to {url} timed out while it waited for a free connection: all the "
            f"connections the shared client's pool allows were in use (async_client("
            f"limit={limit}), 0 means no limit). Raise limit= of async_client, or the pool "
            f"timeout (async_client(timeout=httpx.Timeout(..., pool=...)) or the request's "
            f"timeout=), or have the requests holding connections finish sooner (read or "
            f"close every response: 'async with client.stream(...)' closes it).",
            request=request,
        )

    def __reduce__(self) -> tuple[type[PoolTimeoutError], tuple[str, int]]:
        return type(self), (self.url, self.limit)


async def async_client(
    *,
    base_url: str | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    limit: int = 100,
    headers: Mapping[str, str] | None = None,
    cookies: httpx.Cookies | http.cookiejar.CookieJar | dict[str, str] | None = None,
    allow_other_origins: bool = False,
    health_url: str | None = None,
    **client_options: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """Open one ``AsyncClient`` for all users of the server; close it at the end.

    The client keeps **no cookies** unless you pass ``cookies``: httpx's own client keeps
    every cookie an upstream sets for one user's request and sends it on every other user's
    requests. ``timeout`` is an ``httpx.Timeout`` or a number of seconds for each of connect,
    read, write and the wait for a pooled connection (httpx has no timeout for a whole
    request); ``limit`` bounds the connection pool (0 means no bound), idle connections
    included; a request that times out waiting for the full pool raises
    :class:`PoolTimeoutError`.

    With a ``base_url``, the client sends requests to that origin only (:class:`OriginError`
    otherwise, redirects included) unless ``allow_other_origins=True``, and its ``headers``
    go to that origin only, always. Closing the client is refused (:class:`SharedClientError`):
    it is closed here, at shutdown. With a ``health_url``, the readiness probe GETs it and
    counts any status below 400 as up. Any other keyword goes to ``httpx.AsyncClient``
    (``verify``, ``cert``, ``http1``, ``http2``, ``retries`` and ``trust_env`` to its
    transport too), except ``limits``: use ``limit``.
    """
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = httpx.Timeout(positive_seconds(_NAME, "timeout", timeout))
    if not isinstance(timeout, httpx.Timeout):  # also catches bool
        raise TypeError(
            f"async_client(timeout=...) must be an httpx.Timeout or a number of seconds, "
            f"got {timeout!r}."
        )
    pool_limit(_NAME, "limit", limit)
    if "limits" in client_options:
        raise TypeError(
            "async_client(limits=...) is not taken: pass limit= (the most connections of the "
            "pool, idle ones included, 0 for no bound)."
        )
    hooks = dict(client_options.pop("event_hooks", None) or {})
    if base_url is not None:
        guard = _OriginGuard(httpx.URL(base_url), httpx.Headers(headers), allow_other_origins)
        # Last: it sees the URL a request finally goes to, after the caller's own hooks.
        hooks["request"] = [*hooks.get("request", ()), guard]
        # The guard adds the default headers where they belong; httpx would add them to
        # every request, to any origin, and keep them across redirects.
        headers = None
    transport: _PoolTransport | None = None
    if "transport" not in client_options:
        transport = _PoolTransport(
            limit,
            limits=httpx.Limits(max_connections=limit or None, max_keepalive_connections=None),
            **{name: client_options[name] for name in _TRANSPORT_OPTIONS if name in client_options},
        )
        client_options["transport"] = transport
    try:
        client = _SharedAsyncClient(
            base_url=base_url or "",
            timeout=timeout,
            headers=headers,
            cookies=cookies if cookies is not None else _NoCookieJar(),
            event_hooks=hooks,
            **client_options,
        )
    except BaseException:
        if transport is not None:
            await transport.aclose()
        raise
    attach(
        client,
        check=_url_check(health_url) if health_url is not None else None,
        stats=pool_stats,
    )
    try:
        yield client
    finally:
        await httpx.AsyncClient.aclose(client)


def pool_stats(client: httpx.AsyncClient) -> PoolStats:
    """How full the connection pool of ``client`` (an ``httpx.AsyncHTTPTransport``'s) is now.

    httpx exposes no pool numbers: the transport's pool is the private ``_transport._pool``
    of the client; httpcore's pool gives its ``connections`` publicly, the requests waiting for
    one only in its private ``_requests``, and its bound in ``_max_connections`` (``sys.maxsize``
    for none; httpx 0.28,
    httpcore 1.0). Requests sent through ``mounts`` or a proxy are not counted. A client with
    another kind of transport raises ``TypeError``.
    """
    transport = client._transport
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        raise TypeError(
            f"pool_stats() reads the pool of an httpx.AsyncHTTPTransport; this client's "
            f"transport is {transport!r}."
        )
    pool = transport._pool
    connections = pool.connections
    in_use = sum(not connection.is_idle() for connection in connections)
    waiting = sum(request.is_queued() for request in pool._requests)
    return PoolStats(
        open=len(connections),
        in_use=in_use,
        waiting=waiting,
        limit=0 if pool._max_connections == sys.maxsize else pool._max_connections,
    )


class _PoolTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, whose timeout waiting for the full pool says so."""

    def __init__(self, limit: int, **options: Any) -> None:
        super().__init__(**options)
        self.limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.PoolTimeout as exc:
            raise PoolTimeoutError(str(request.url), self.limit, request) from exc


class _NoCookieJar(http.cookiejar.CookieJar):
    """Keeps no cookie: what the upstream sets for one user's request is not kept for others.

    Given to the client as a ``CookieJar``: an ``httpx.Cookies`` would be copied into a plain
    jar by the client.

    ``set_cookie`` is where every cookie gets in (``extract_cookies`` of a response too).
    """

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        pass


class _SharedAsyncClient(httpx.AsyncClient):
    """An ``AsyncClient`` that its users cannot close (``async_client`` closes it)."""

    async def aclose(self) -> NoReturn:
        raise SharedClientError("aclose")

    async def __aenter__(self) -> NoReturn:
        # (``async with`` finds __aenter__ on the class, so the refusal lives in a subclass.)
        raise SharedClientError("__aenter__")


def _origin(url: httpx.URL) -> tuple[str, str | None, int | None]:
    return origin_of(url.scheme, url.host, url.port)


class _OriginGuard:
    """A request event hook: default headers on the base origin only; other origins refused.

    httpx runs the request hooks for every hop of a redirect, whatever the transport (a proxy
    or a mount too), so every URL a request goes to passes here.
    """

    def __init__(self, base_url: httpx.URL, headers: httpx.Headers, allow: bool) -> None:
        self.origin = _origin(base_url)
        self.base_origin = f"{base_url.scheme}://{base_url.netloc.decode('ascii')}"
        self.headers = headers
        self.allow = allow

    async def __call__(self, request: httpx.Request) -> None:
        if _origin(request.url) == self.origin:
            # Headers passed for the request replace the default of the same name.
            added = [name for name in self.headers if name not in request.headers]
            for name in added:
                request.headers[name] = self.headers[name]
            if added:
                request.extensions = {**request.extensions, _ADDED: tuple(added)}
            return
        if not self.allow:
            raise OriginError(self.base_origin, str(request.url), _NAME)
        # The previous hop of a redirect was on the base origin: httpx copied its headers.
        for name in request.extensions.get(_ADDED, ()):
            request.headers.pop(name, None)  # httpx itself drops Authorization
        request.extensions = {k: v for k, v in request.extensions.items() if k != _ADDED}


def _url_check(url: str) -> Check:
    async def check(client: httpx.AsyncClient) -> None:
        response = await client.get(url)
        if response.status_code >= 400:
            raise RuntimeError(
                f"GET {url} answered {response.status_code} {response.reason_phrase}"
            )

    return check
