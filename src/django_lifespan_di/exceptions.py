"""Every exception the library raises, in one place (re-exported where users meet them).

Two are not here: each factory's ``PoolTimeoutError`` subclasses its own client library's
timeout (``aiohttp.ConnectionTimeoutError``, ``httpx.PoolTimeout``), so that ``except`` clauses
written for that library keep working; they live in :mod:`django_lifespan_di.aiohttp` and
:mod:`django_lifespan_di.httpx`.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "AsyncResourceRequiredError",
    "ConfigurationError",
    "LifespanProtocolError",
    "OriginError",
    "OverrideError",
    "RequestScopeError",
    "SharedClientError",
    "SharedSessionError",
    "ShutdownError",
    "StartupError",
]

SETTING = "DJANGO_LIFESPAN_DI"


class ConfigurationError(ImproperlyConfigured):
    """A mistake in the settings block; ``check_id`` is the system check that reports it.

    ``errors`` holds every mistake found (this one alone, or each of several).
    """

    def __init__(self, check_id: str, message: str) -> None:
        super().__init__(message)
        self.check_id = check_id
        self.message = message
        self.errors: tuple[ConfigurationError, ...] = (self,)

    @classmethod
    def of(cls, errors: list[ConfigurationError]) -> ConfigurationError:
        """One error standing for ``errors``: the first one, carrying all of them."""
        if len(errors) == 1:
            return errors[0]
        combined = cls(
            errors[0].check_id,
            f"{len(errors)} mistakes in {SETTING}:\n"
            + "\n".join(f"  ({e.check_id}) {e.message}" for e in errors),
        )
        combined.errors = tuple(errors)
        return combined


class StartupError(Exception):
    """Startup failed; everything started before the failure has been stopped again.

    ``name`` is the resource (or hook) that failed.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name

    @classmethod
    def from_message(cls, message: str) -> StartupError:
        """Rebuild the error from the text of a ``lifespan.startup.failed`` message."""
        found = re.match(r"resource '([^']+)'", message)
        return cls(found.group(1) if found else "startup", message)


class ShutdownError(Exception):
    """One or more resources or hooks failed to stop; all the others were stopped."""

    _TEXT = "failed to stop: {} (see the log for each traceback)"

    def __init__(self, names: list[str]) -> None:
        super().__init__(self._TEXT.format(", ".join(names)))
        self.names = names

    @classmethod
    def from_message(cls, message: str) -> ShutdownError:
        """Rebuild the error from the text of a ``lifespan.shutdown.failed`` message."""
        prefix, suffix = cls._TEXT.split("{}")
        if message.startswith(prefix) and message.endswith(suffix):
            return cls(message[len(prefix) : -len(suffix)].split(", "))
        return cls([message])


class AsyncResourceRequiredError(RuntimeError):
    """An async resource was asked for where no event loop runs (a sync view or thread)."""


class LifespanProtocolError(RuntimeError):
    """The server sent a lifespan message out of order, or one this protocol does not have."""


class RequestScopeError(RuntimeError):
    """A request-scoped provider was used where no request scope is active (or after it ended)."""


class OverrideError(LookupError):
    """An override names no provider, or could not take effect where the test expects it."""


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


class SharedSessionError(RuntimeError):
    """Code other than django_lifespan_di tried to close the shared session (or client)."""

    _TEXT = (
        "session.{operation}() refused: this aiohttp.ClientSession is shared by the whole "
        "process (every view, every user) and django_lifespan_di closes it at shutdown; closed "
        "here, it would fail every later request with 'Session is closed'. Don't close it, and "
        "don't use 'async with session:'; use 'async with session.get(...) as response:' to "
        "release each response."
    )

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(self._TEXT.format(operation=operation))

    def __reduce__(self) -> tuple[type[SharedSessionError], tuple[str]]:
        # Pickled by its fields, as Django's parallel test runner does with a test's error.
        return type(self), (self.operation,)


class SharedClientError(SharedSessionError):
    """Code other than django_lifespan_di tried to close the shared httpx client."""

    _TEXT = (
        "client.{operation}() refused: this httpx.AsyncClient is shared by the whole process "
        "(every view, every user) and django_lifespan_di closes it at shutdown; closed here, "
        "it would fail every later request. Don't close it, and don't use 'async with "
        "client:'; use 'async with client.stream(...) as response:' or read each response to "
        "release its connection."
    )
