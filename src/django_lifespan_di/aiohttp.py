"""A shared ``aiohttp.ClientSession`` with safe defaults for a server-wide session.

Use it as the initializer of a :class:`~django_lifespan_di.LifespanResource`::

    http_session = LifespanResource(client_session, base_url="https://api.example.com")
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp.abc import AbstractCookieJar

__all__ = ["DEFAULT_TIMEOUT", "client_session"]

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
"""30 s for a whole request, 10 s to connect: aiohttp's own default waits 5 minutes."""


async def client_session(
    *,
    base_url: str | None = None,
    timeout: aiohttp.ClientTimeout | float = DEFAULT_TIMEOUT,
    limit: int = 100,
    limit_per_host: int = 0,
    headers: Mapping[str, str] | None = None,
    cookie_jar: AbstractCookieJar | None = None,
    **session_options: Any,
) -> AsyncIterator[aiohttp.ClientSession]:
    """Open one ``ClientSession`` for all users of the server; close it at the end.

    The session keeps **no cookies** unless you pass a ``cookie_jar``: with aiohttp's default
    jar, a cookie that the upstream sets for one user's request is sent on every other user's
    requests. ``timeout`` is a ``ClientTimeout`` or a number of seconds for the whole request;
    ``limit`` and ``limit_per_host`` bound the connection pool (0 means no bound). Any other
    keyword goes to ``aiohttp.ClientSession``.
    """
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = aiohttp.ClientTimeout(total=_positive("timeout", timeout))
    if not isinstance(timeout, aiohttp.ClientTimeout):  # also catches bool
        raise TypeError(
            f"client_session(timeout=...) must be an aiohttp.ClientTimeout or a number of "
            f"seconds, got {timeout!r}."
        )
    for name, value in (("limit", limit), ("limit_per_host", limit_per_host)):
        if type(value) is not int or value < 0:  # bool is an int, but not a count
            raise ValueError(
                f"client_session({name}=...) must be a whole number >= 0 (0 means no limit), "
                f"got {value!r}."
            )
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
    try:
        yield session
    finally:
        await session.close()


def _positive(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"client_session({name}=...) must be a positive, finite number of seconds, "
            f"got {value!r}."
        )
    return float(value)
