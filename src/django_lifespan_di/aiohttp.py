"""A shared ``aiohttp.ClientSession`` with safe defaults for a server-wide session.

Use it as the initializer of a :class:`~django_lifespan_di.LifespanResource`::

    http_session = LifespanResource(client_session, base_url="https://api.example.com")
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace
from typing import Any, ClassVar, NoReturn, cast

import aiohttp
from aiohttp.abc import AbstractCookieJar
from multidict import CIMultiDict
from yarl import URL

from django_lifespan_di._http import OriginError, origin_of, pool_limit, positive_seconds
from django_lifespan_di._probes import Check, PoolStats, attach
from django_lifespan_di.exceptions import SharedSessionError

__all__ = [
    "DEFAULT_TIMEOUT",
    "OriginError",
    "PoolTimeoutError",
    "SharedSessionError",
    "client_session",
    "pool_stats",
    "request_session",
]

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
"""30 s for a whole request, 10 s to connect: aiohttp's own default waits 5 minutes."""


class PoolTimeoutError(aiohttp.ConnectionTimeoutError):
    """A request timed out while it waited for a free connection of the full pool.

    A ``ConnectionTimeoutError``, hence an ``aiohttp.ServerTimeoutError`` and an
    ``asyncio.TimeoutError``: code that catches those keeps working.
    """

    def __init__(self, url: str, limit: int, limit_per_host: int) -> None:
        self.url = url
        self.limit = limit
        self.limit_per_host = limit_per_host
        super().__init__(
            f"The request to {url} timed out while it waited for a free connection: all the "
            f"connections the shared session's pool allows were in use (client_session("
            f"limit={limit}, limit_per_host={limit_per_host}), 0 means no limit). Raise "
            f"limit= or limit_per_host= of client_session, or the timeout (client_session("
            f"timeout=...) or the request's timeout=), or have the requests holding "
            f"connections finish sooner (read or release every response)."
        )

    def __reduce__(self) -> tuple[type[PoolTimeoutError], tuple[str, int, int]]:
        return type(self), (self.url, self.limit, self.limit_per_host)


async def client_session(
    *,
    base_url: str | None = None,
    timeout: aiohttp.ClientTimeout | float = DEFAULT_TIMEOUT,
    limit: int = 100,
    limit_per_host: int = 0,
    headers: Mapping[str, str] | None = None,
    cookie_jar: AbstractCookieJar | None = None,
    allow_other_origins: bool = False,
    health_url: str | None = None,
    **session_options: Any,
) -> AsyncIterator[aiohttp.ClientSession]:
    """Open one ``ClientSession`` for all users of the server; close it at the end.

    The session keeps **no cookies** unless you pass a ``cookie_jar``: with aiohttp's default
    jar, a cookie that the upstream sets for one user's request is sent on every other user's
    requests. ``timeout`` is a ``ClientTimeout`` or a number of seconds for the whole request;
    ``limit`` and ``limit_per_host`` bound the connection pool (0 means no bound); a request
    that times out waiting for a connection of the full pool raises :class:`PoolTimeoutError`.

    With a ``base_url``, the session sends requests to that origin only (:class:`OriginError`
    otherwise, redirects included) unless ``allow_other_origins=True``, and its ``headers`` go
    to that origin only, always. Closing the session is refused (:class:`SharedSessionError`):
    it is closed here, at shutdown. With a ``health_url`` (a path under ``base_url``, or a
    URL), the readiness probe GETs it and counts any status below 400 as up. Any other keyword
    goes to ``aiohttp.ClientSession``.
    """
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = aiohttp.ClientTimeout(total=positive_seconds(_NAME, "timeout", timeout))
    if not isinstance(timeout, aiohttp.ClientTimeout):  # also catches bool
        raise TypeError(
            f"client_session(timeout=...) must be an aiohttp.ClientTimeout or a number of "
            f"seconds, got {timeout!r}."
        )
    pool_limit(_NAME, "limit", limit)
    pool_limit(_NAME, "limit_per_host", limit_per_host)
    if base_url is not None:
        session_options["request_class"] = _origin_bound(
            URL(base_url),
            CIMultiDict(headers or {}),
            allow_other_origins,
            session_options.get("request_class", aiohttp.ClientRequest),
        )
        # The request class adds the default headers where they belong; aiohttp would add
        # them to every request, to any origin, and keep them across redirects.
        headers = None
    session_options["trace_configs"] = [
        *(session_options.get("trace_configs") or ()),
        # Last: the user's own on_request_exception handlers see aiohttp's exception first.
        _pool_timeout_trace(limit, limit_per_host),
    ]
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit_per_host)
    try:
        session = aiohttp.ClientSession(
            base_url=base_url,
            timeout=timeout,
            connector=connector,
            headers=headers,
            cookie_jar=cookie_jar if cookie_jar is not None else aiohttp.DummyCookieJar(),
            **session_options,
        )
    except BaseException:
        await connector.close()
        raise
    _refuse_closing(session)
    _defaults[session] = {
        "base_url": base_url,
        "timeout": timeout,
        "headers": headers,
        **session_options,
    }
    attach(
        session,
        check=_url_check(health_url) if health_url is not None else None,
        stats=pool_stats,
    )
    try:
        yield session
    finally:
        await aiohttp.ClientSession.close(session)


_NAME = "client_session"

# What each session client_session made was built with: what request_session copies.
_defaults: weakref.WeakKeyDictionary[aiohttp.ClientSession, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


async def request_session(
    shared: aiohttp.ClientSession, *, unsafe_cookies: bool = False
) -> AsyncIterator[aiohttp.ClientSession]:
    """A ``ClientSession`` for one request, with its own cookie jar, on ``shared``'s pool.

    Use it as the initializer of a :class:`~django_lifespan_di.RequestResource`, with the
    shared session (a :func:`client_session` resource) as its argument::

        user_session = RequestResource(request_session, http_session)

    It has the shared session's defaults (``base_url``, timeouts, headers and the origin guard,
    the pool-timeout error) and sends its requests over the shared connection pool: no new
    TCP connections. The cookies an upstream sets during the request are sent back for the
    rest of that request only, never on another request's. At the end of the request it is
    closed; the pool stays open. ``unsafe_cookies=True`` also keeps cookies of hosts named by
    an IP address (aiohttp's ``CookieJar(unsafe=True)``), which a jar ignores by default.
    """
    defaults = _defaults.get(shared)
    if defaults is None:
        raise TypeError(
            f"request_session() needs a session made by django_lifespan_di.aiohttp."
            f"client_session (whose defaults it copies), got {shared!r}. Declare the shared "
            "session as LifespanResource(client_session, ...)."
        )
    session = aiohttp.ClientSession(
        connector=shared.connector,
        connector_owner=False,
        cookie_jar=aiohttp.CookieJar(unsafe=unsafe_cookies),
        **defaults,
    )
    try:
        yield session
    finally:
        await session.close()


def pool_stats(session: aiohttp.ClientSession) -> PoolStats:
    """How full the connection pool of ``session`` (a ``TCPConnector``'s) is now.

    aiohttp has no public API for these numbers: they are read from the connector's private
    ``_acquired`` (connections in use), ``_conns`` (idle ones) and ``_waiters`` (requests
    queued for the full pool), as of aiohttp 3.12 to 3.14.
    """
    connector = session.connector
    if connector is None:
        return PoolStats(open=0, in_use=0, waiting=0, limit=0)
    in_use = len(getattr(connector, "_acquired", ()))
    idle = sum(len(each) for each in getattr(connector, "_conns", {}).values())
    waiting = sum(len(each) for each in getattr(connector, "_waiters", {}).values())
    return PoolStats(open=in_use + idle, in_use=in_use, waiting=waiting, limit=connector.limit)


def _url_check(url: str) -> Check:
    async def check(session: aiohttp.ClientSession) -> None:
        async with session.get(url, allow_redirects=False) as response:
            status, reason = response.status, response.reason
        if status >= 400:
            raise RuntimeError(f"GET {url} answered {status} {reason}")

    return check


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return origin_of(url.scheme, url.host, url.port)


class _OriginBoundRequest(aiohttp.ClientRequest):
    """Adds the session's default headers on its base origin only; refuses other origins.

    aiohttp makes one request object for each hop of a redirect, so every URL a request goes
    to passes here, a redirect to another origin too. ``ClientSession(request_class=...)``
    is aiohttp's public hook for this; the subclass of each session sets the class variables.
    """

    base_url: ClassVar[URL]
    base_origin: ClassVar[tuple[str, str | None, int | None]]
    default_headers: ClassVar[CIMultiDict[str]]
    allow_other_origins: ClassVar[bool]

    def __init__(self, method: str, url: URL, *args: Any, **kwargs: Any) -> None:
        if _origin(url) == self.base_origin:
            if self.default_headers:
                kwargs["headers"] = self._with_defaults(kwargs.get("headers"))
        elif not self.allow_other_origins:
            raise OriginError(str(self.base_url.origin()), str(url), _NAME)
        super().__init__(method, url, *args, **kwargs)

    def _with_defaults(self, headers: Any) -> CIMultiDict[str]:
        # Headers passed for the request replace the default of the same name, as
        # aiohttp's session headers do. A new dict: aiohttp reuses the one it passes for
        # the next hop of a redirect, which may go to another origin.
        explicit: CIMultiDict[str] = CIMultiDict(headers or {})
        merged = CIMultiDict(
            (name, value) for name, value in self.default_headers.items() if name not in explicit
        )
        merged.extend(explicit)
        return merged


def _origin_bound(
    base_url: URL,
    headers: CIMultiDict[str],
    allow_other_origins: bool,
    request_class: type[aiohttp.ClientRequest],
) -> type[aiohttp.ClientRequest]:
    # Built on the request_class the user passed, if any, so that both apply.
    bound = type(
        "OriginBoundRequest",
        (_OriginBoundRequest, request_class),
        {
            "base_url": base_url,
            "base_origin": _origin(base_url),
            "default_headers": headers,
            "allow_other_origins": allow_other_origins,
        },
    )
    return cast("type[aiohttp.ClientRequest]", bound)


def _refuse_closing(session: aiohttp.ClientSession) -> None:
    """Make ``close()`` and ``detach()`` of the shared session raise SharedSessionError.

    One view closing the session would break every later request of the process. Set on the
    instance (``async with session:`` ends in ``self.close()``, found there) with
    ``object.__setattr__``: ``ClientSession.__setattr__`` warns about new attributes in debug
    mode, and aiohttp discourages (and warns about) subclasses of ClientSession.
    ``client_session`` itself closes the session with ``aiohttp.ClientSession.close``.
    """
    for operation in ("close", "detach"):
        object.__setattr__(session, operation, functools.partial(_refuse, operation))


def _refuse(operation: str, *args: object, **kwargs: object) -> NoReturn:
    raise SharedSessionError(operation)


def _pool_timeout_trace(limit: int, limit_per_host: int) -> aiohttp.TraceConfig:
    """Turn a timeout that hit a request waiting for the full pool into PoolTimeoutError.

    aiohttp raises a bare ``TimeoutError()`` when the total timeout expires in the queue of
    the connector, or a ``ConnectionTimeoutError`` naming the host when ``connect`` does:
    neither says that the pool was full. The queue is seen through aiohttp's public tracing
    signals; an exception raised by an ``on_request_exception`` handler replaces aiohttp's.
    """

    async def queued(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
        context.waiting_for_pool = True

    async def dequeued(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
        context.waiting_for_pool = False

    async def failed(
        _: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        if isinstance(params.exception, asyncio.TimeoutError) and getattr(
            context, "waiting_for_pool", False
        ):
            raise PoolTimeoutError(str(params.url), limit, limit_per_host) from params.exception

    trace = aiohttp.TraceConfig()
    trace.on_connection_queued_start.append(queued)
    trace.on_connection_queued_end.append(dequeued)
    trace.on_request_exception.append(failed)
    return trace
