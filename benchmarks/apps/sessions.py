"""One definition of the upstream and of the session options, shared by every variant.

Every variant talks to the same upstream with the same ``ClientSession`` options (pool size,
timeouts, no cookie jar), so the ratios measure how the session is obtained, not its settings.
"""

from __future__ import annotations

import os

import aiohttp
import httpx

from django_lifespan_di import httpx as shared_httpx
from django_lifespan_di.aiohttp import DEFAULT_TIMEOUT

__all__ = ["PATH", "POOL_SIZE", "new_httpx_client", "new_session", "upstream_url"]

POOL_SIZE = 100
"""The connector limit of every shared session (aiohttp's and django-lifespan-di's default)."""

PATH = "/bytes"
"""The upstream path that returns the 64-byte body."""


def upstream_url() -> str:
    """The upstream's base URL, from ``BENCH_UPSTREAM_URL`` (an IP: no DNS lookup per connect)."""
    return os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:1")


def new_session() -> aiohttp.ClientSession:
    """A session configured as ``django_lifespan_di.aiohttp.client_session`` configures one."""
    return aiohttp.ClientSession(
        base_url=upstream_url(),
        timeout=DEFAULT_TIMEOUT,
        connector=aiohttp.TCPConnector(limit=POOL_SIZE),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def new_httpx_client() -> httpx.AsyncClient:
    """A client configured as ``django_lifespan_di.httpx.async_client`` configures one."""
    return httpx.AsyncClient(
        base_url=upstream_url(),
        timeout=shared_httpx.DEFAULT_TIMEOUT,
        limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=None),
    )
