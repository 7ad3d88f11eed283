"""What the shared HTTP client factories (``aiohttp``, ``httpx``) have in common.

The error for a request to another origin, what an origin is, and the validation of the
options both factories take, so that both say the same thing in the same words.
"""

from __future__ import annotations

import math

from django_lifespan_di.exceptions import OriginError

__all__ = ["OriginError", "origin_of", "pool_limit", "positive_seconds"]


# ws:// and wss:// reach the same server as http:// and https:// (a WebSocket handshake is an
# HTTP request), so they belong to the same origin for the default headers.
_HTTP_SCHEME_OF = {"ws": "http", "wss": "https"}
_DEFAULT_PORT = {"http": 80, "https": 443}


def origin_of(
    scheme: str, host: str | None, port: int | None
) -> tuple[str, str | None, int | None]:
    """The (scheme, host, port) an origin is, whether or not the URL spells the default port."""
    scheme = _HTTP_SCHEME_OF.get(scheme.lower(), scheme.lower())
    host = host.lower() if host else host
    return (scheme, host, port if port is not None else _DEFAULT_PORT.get(scheme))


def positive_seconds(factory: str, name: str, value: float) -> float:
    """``value`` as seconds, or a ``ValueError`` naming ``factory(name=...)``."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{factory}({name}=...) must be a positive, finite number of seconds, got {value!r}."
        )
    return float(value)


def pool_limit(factory: str, name: str, value: object) -> int:
    """A connection count ``>= 0`` (0: no limit), or a ``ValueError`` naming the parameter."""
    if type(value) is not int or value < 0:  # bool is an int, but not a count
        raise ValueError(
            f"{factory}({name}=...) must be a whole number >= 0 (0 means no limit), got {value!r}."
        )
    return value
