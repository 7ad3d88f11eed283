"""What the shared HTTP client factories (``aiohttp``, ``httpx``) have in common.

The error for a request to another origin, what an origin is, and the validation of the
options both factories take, so that both say the same thing in the same words.
"""

from __future__ import annotations

import math

__all__ = ["OriginError", "origin_of", "pool_limit", "positive_seconds"]


class OriginError(ValueError):
    """A shared client with a ``base_url`` was asked to send a request to another origin.

    Raised for a URL given to a request method and for a redirect the upstream answers with:
    the client's default ``headers`` (an API key, a token) are meant for ``base_url`` only.
    ``factory`` names the factory that made the client (``client_session``, ``async_client``).
    """

    def __init__(self, base_origin: str, url: str, factory: str = "client_session") -> None:
        self.base_origin = base_origin
        self.url = url
        self.factory = factory
        hint = (
            " (a URL without a scheme, //host/..., counts as another origin: it would be "
            "sent over plain HTTP)"
            if url.startswith("//")
            else ""
        )
        super().__init__(
            f"The shared client of {factory}(base_url={base_origin!r}) refused a request to "
            f"{url!r}, which is on another origin{hint}. Use a path relative to base_url, or "
            f"pass allow_other_origins=True to {factory} to allow other origins; the default "
            f"headers are then sent to {base_origin} only."
        )

    def __reduce__(self) -> tuple[type[OriginError], tuple[str, str, str]]:
        # Pickled by its fields, as Django's parallel test runner does with a test's error.
        return type(self), (self.base_origin, self.url, self.factory)


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
