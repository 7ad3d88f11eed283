"""Test helpers: override providers, and run the real lifespan around a test.

``override_providers`` works as a context manager, as a decorator of sync and async test
functions and as a class decorator of Django test cases (like ``override_settings``)::

    @override_providers(http_session=FakeSession())
    class WeatherTests(TestCase): ...

    async with lifespan_client() as client:   # startup ... test ... shutdown, always
        response = await client.get("/weather?city=Oslo")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from dependency_injector import providers
from django.test import AsyncClient
from django.test.utils import TestContextDecorator

from django_lifespan_di._container import container_name, get_container, provider_names
from django_lifespan_di._lifecycle import ShutdownError, StartupError
from django_lifespan_di.asgi import get_asgi_application
from django_lifespan_di.exceptions import OverrideError

__all__ = ["OverrideError", "lifespan", "lifespan_client", "override_providers"]


class override_providers(TestContextDecorator):  # named like Django's override_settings
    """Override providers of the process's container for the duration of a test.

    Keys are provider names (``"http_session"``, ``"clients.http"`` in a nested container) or
    provider objects (``Container.http_session``); values are providers, used as they are, or
    any other object, provided as it is. Overrides nest and are always undone.
    """

    def __init__(
        self,
        overrides: Mapping[str | providers.Provider[Any], object] | None = None,
        /,
        **by_name: object,
    ) -> None:
        self.overrides: list[tuple[str | providers.Provider[Any], object]] = [
            *(overrides or {}).items(),
            *by_name.items(),
        ]
        self._applied: list[list[tuple[Any, Any]]] = []
        super().__init__()

    def enable(self) -> Any:
        container = get_container()
        targets = [(find_provider(container, key), value) for key, value in self.overrides]
        overriding = [provider for provider, _ in targets]
        for provider in overriding:
            _refuse_captured(container, provider, overriding)
        applied: list[tuple[Any, Any]] = []
        try:
            for provider, value in targets:
                replacement = value if providers.is_provider(value) else providers.Object(value)
                provider.override(replacement)
                applied.append((provider, replacement))
        except BaseException:
            _undo(applied)  # what failed half-way must not leak into later tests
            raise
        self._applied.append(applied)
        return container

    def disable(self) -> None:
        _undo(self._applied.pop())


def _undo(applied: list[tuple[Any, Any]]) -> None:
    """Remove exactly these overrides, whatever was stacked on the providers after them."""
    for provider, replacement in reversed(applied):
        stack = list(provider.overridden)
        if stack and stack[-1] is replacement:
            provider.reset_last_overriding()
            continue
        # Disabled out of order: take this override out from under the later ones.
        provider.reset_override()
        position = max(i for i, each in enumerate(stack) if each is replacement)
        for each in stack[:position] + stack[position + 1 :]:
            provider.override(each)


def find_provider(container: Any, key: str | providers.Provider[Any]) -> Any:
    """The provider of ``container`` that ``key`` (a dotted name or a provider) designates."""
    names = provider_names(container)
    if isinstance(key, str):
        if key in names:
            return names[key]
        raise OverrideError(
            f"{container_name(container)} has no provider named {key!r}; "
            f"it has: {', '.join(sorted(names))}."
        )
    if any(provider is key for provider in names.values()):
        return key
    declared = getattr(container, "declarative_parent", None) or type(container)
    for name, provider in provider_names(declared).items():
        if provider is key and name in names:
            return names[name]
    raise OverrideError(
        f"{key!r} is not a provider of {container_name(container)}; "
        f"it has: {', '.join(sorted(names))}."
    )


def _refuse_captured(container: Any, provider: Any, overriding: list[Any]) -> None:
    """An initialised resource built with the real provider would not see the override.

    A resource that is overridden too (here or by an enclosing override) is not used, so what
    it was built with does not matter.
    """
    names = provider_names(container)
    captured: list[str] = []
    for name, other in names.items():
        if other is provider or not isinstance(other, providers.BaseResource):
            continue
        if other.last_overriding is not None or any(other is each for each in overriding):
            continue
        needs: list[Any] = list(other.traverse())
        if other.initialized and any(needed is provider for needed in needs):
            captured.append(name)
    if captured:
        (overridden,) = [name for name, each in names.items() if each is provider][:1] or [
            repr(provider)
        ]
        raise OverrideError(
            f"Overriding {overridden!r} would not reach {', '.join(captured)}, already started "
            f"with the real one. Override {', '.join(captured)} too, or override before the "
            "lifespan startup."
        )


@contextlib.asynccontextmanager
async def lifespan(app: Any = None, *, timeout: float = 60) -> AsyncIterator[dict[str, Any]]:
    """Run ``app``'s lifespan startup, yield the lifespan state, then always run shutdown.

    ``app`` defaults to :func:`~django_lifespan_di.asgi.get_asgi_application`. A failed startup
    raises the :class:`~django_lifespan_di.StartupError` itself (its ``name``, traceback and
    ``__cause__``) when the app is this library's handler or middleware, or one rebuilt from
    the server-side message for another app; a failed shutdown raises the
    :class:`~django_lifespan_di.ShutdownError` the same way, unless the test body already
    raised (its error wins).
    """
    app = app or get_asgi_application()
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    state: dict[str, Any] = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))

    async def reply(expected: str) -> dict[str, Any]:
        getter = asyncio.ensure_future(outbox.get())
        done, _ = await asyncio.wait({getter, task}, timeout=timeout, return_when="FIRST_COMPLETED")
        if getter in done:
            return getter.result()
        getter.cancel()
        if task in done:
            task.result()  # the app raised: let its own error through
            raise RuntimeError(f"the app returned without sending {expected}")
        raise TimeoutError(f"the app sent no {expected} within {timeout:g} s")

    try:
        await inbox.put({"type": "lifespan.startup"})
        message = await reply("lifespan.startup.complete")
        if message["type"] == "lifespan.startup.failed":
            raise _failure_of(app) or StartupError.from_message(message.get("message", ""))
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    failed: BaseException | None = None
    try:
        yield state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        message = await reply("lifespan.shutdown.complete")
        await asyncio.wait_for(task, timeout)
        if message["type"] == "lifespan.shutdown.failed":
            failed = _failure_of(app) or ShutdownError.from_message(message.get("message", ""))
    if failed is not None:
        raise failed


def _failure_of(app: Any) -> BaseException | None:
    """The exception itself, when the app is ours; a foreign app's failure is only text."""
    failure = getattr(app, "lifespan_failure", None)
    return failure if isinstance(failure, BaseException) else None


@contextlib.asynccontextmanager
async def lifespan_client(app: Any = None, **defaults: Any) -> AsyncIterator[AsyncClient]:
    """An ``AsyncClient`` used between a real lifespan startup and shutdown."""
    async with lifespan(app):
        yield AsyncClient(**defaults)
