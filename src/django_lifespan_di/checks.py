"""System checks (``manage.py check``), also run before serving: by the lifespan startup, or
by the first request where the server sends no lifespan.

Ids: ``django_lifespan_di.E001`` to ``E008``, ``E011`` and ``E012`` are settings mistakes (see
:mod:`.conf`); ``E009`` a view with injection markers in a module the container is not wired
to; ``E010`` a marker naming a provider the container does not have; ``E013`` a sync view
asking for something provided asynchronously; ``E014`` a mistake in ``HEALTH_CHECKS`` and
``E015`` a health check for a name that is no resource of the container; ``W001`` an async
``providers.Resource`` that would be better declared as a ``LifespanResource``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, cast

from asgiref.sync import iscoroutinefunction
from dependency_injector import providers
from dependency_injector.wiring import Closing, ProvidersMap
from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

from django_lifespan_di import _container
from django_lifespan_di._container import container_name
from django_lifespan_di._inject import find_markers, injected_markers, marker_text
from django_lifespan_di._lifecycle import resource_names
from django_lifespan_di._process import TAG
from django_lifespan_di._request_scope import RequestResource
from django_lifespan_di._resource import LifespanResource
from django_lifespan_di.conf import ConfigurationError

__all__ = ["TAG", "register"]

# The stubs declare the markers as instances; at run time they are classes.
_CLOSING = cast("type[Any]", Closing)


def register() -> None:
    """Register the checks (idempotent)."""
    checks.register(check_settings, TAG)
    checks.register(check_resources, TAG)
    checks.register(check_views, TAG)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report the settings mistake the container could not be built with."""
    try:
        _container.get_container()
    except ConfigurationError as exc:
        return [checks.Error(each.message, id=each.check_id) for each in exc.errors]
    return []


def check_resources(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about async resources declared with the stock, loop-unaware provider."""
    container = _safe_container()
    if container is None:
        return []
    messages: list[checks.CheckMessage] = []
    for name, provider in container.providers.items():
        if isinstance(provider, LifespanResource) or not isinstance(provider, providers.Resource):
            continue
        provides = provider.provides
        if _is_async_initializer(provides):
            messages.append(
                checks.Warning(
                    f"Resource {name!r} of {container_name(container)} is async but declared "
                    "with providers.Resource, which is bound to the first event loop that uses "
                    "it and costs a Task per injection.",
                    hint="Declare it with django_lifespan_di.LifespanResource.",
                    id="django_lifespan_di.W001",
                )
            )
    resources = resource_names(container).values()
    for name in _container.get_lifespan_settings().health_checks:
        if name not in resources:
            messages.append(
                checks.Error(
                    f"DJANGO_LIFESPAN_DI['HEALTH_CHECKS'] names {name!r}, which is no resource "
                    f"of {container_name(container)}; its resources are: "
                    f"{', '.join(sorted(resources)) or 'none'}.",
                    hint="Use the provider name of a resource (a dotted one in a nested "
                    "container, 'clients.http').",
                    id="django_lifespan_di.E015",
                )
            )
    return messages


def check_views(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every view that asks for a dependency must be wired to a provider of the container."""
    container = _safe_container()
    if container is None:
        return []
    modules, packages = _container.wired_modules()
    wired = {module.__name__ for module in modules}
    prefixes = tuple(package.__name__ + "." for package in packages)
    wired |= {package.__name__ for package in packages}
    providers_map = ProvidersMap(container)
    messages: list[checks.CheckMessage] = []
    for label, view in _views():
        own = injected_markers(view)
        markers = own if own is not None else find_markers(view)
        if not markers:
            continue
        if own is None:
            module = getattr(inspect.unwrap(view), "__module__", "") or ""
            if module not in wired and not module.startswith(prefixes):
                messages.append(
                    checks.Error(
                        f"View {label} asks for {', '.join(markers)} but its module {module!r} "
                        "is not wired to the container, so it would receive the marker object "
                        "instead.",
                        hint=f"Add {module!r} to the container's wiring_config or to "
                        "DJANGO_LIFESPAN_DI['WIRE'], or decorate the view with "
                        "django_lifespan_di.inject, which needs no wiring.",
                        id="django_lifespan_di.E009",
                    )
                )
                continue
            if not hasattr(view, "__wrapped__"):
                messages.append(
                    checks.Error(
                        f"View {label} asks for {', '.join(markers)} but is not decorated with "
                        "@inject, so the URLconf may hold the unwired function.",
                        hint="Decorate it with dependency_injector.wiring.inject.",
                        id="django_lifespan_di.E009",
                    )
                )
                continue
        messages += _unresolved(label, view, markers, container, providers_map)
    return messages


def _unresolved(
    label: str,
    view: Callable[..., Any],
    markers: dict[str, Any],
    container: Any,
    providers_map: ProvidersMap,
) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for parameter, marker in markers.items():
        named = marker.provider if isinstance(marker, _CLOSING) else marker
        provider = providers_map.resolve_provider(named.provider, named.modifier)
        if provider is None:
            owner = _owner(named)
            which = (
                "which names no provider of the container"
                if owner is None
                else f"a provider of {owner}, not of the container"
            )
            messages.append(
                checks.Error(
                    f"View {label} asks for {parameter}={marker_text(marker)}, {which} "
                    f"{container_name(container)}.",
                    hint="Check the provider's name, and that the marker refers to the "
                    "container named in DJANGO_LIFESPAN_DI['CONTAINER'].",
                    id="django_lifespan_di.E010",
                )
            )
        elif _is_async_provider(provider) and not _is_async(view):
            messages.append(
                checks.Error(
                    f"View {label} asks for {parameter}={marker_text(marker)}, which is "
                    "provided asynchronously, but the view is not `async def`: every request "
                    "would fail.",
                    hint="Declare the view `async def`, or inject a sync provider.",
                    id="django_lifespan_di.E013",
                )
            )
    return messages


def _owner(marker: Any) -> str | None:
    """The declared container a marker's provider belongs to (``OtherContainer``), if any."""
    if isinstance(marker.provider, str):
        return None
    inner = marker_text(marker)[len(type(marker).__name__) + 1 : -1]
    return None if inner.startswith("<") else inner.rsplit(".", 1)[0]


_ASYNC_PROVIDERS = (LifespanResource, RequestResource)


def _is_async_provider(provider: Any) -> bool:
    if isinstance(provider, _ASYNC_PROVIDERS) or provider.is_async_mode_enabled():
        return True
    if any(isinstance(each, _ASYNC_PROVIDERS) for each in provider.traverse()):
        return True
    return isinstance(provider, providers.Resource) and _is_async_initializer(provider.provides)


def _is_async(view: Callable[..., Any]) -> bool:
    return iscoroutinefunction(view) or inspect.isasyncgenfunction(view)


def _safe_container() -> Any:
    try:
        return _container.get_container()
    except ConfigurationError:
        return None  # reported by check_settings


def _is_async_initializer(provides: Any) -> bool:
    wrapped = inspect.unwrap(provides) if callable(provides) else provides
    return (
        inspect.iscoroutinefunction(wrapped)
        or inspect.isasyncgenfunction(wrapped)
        or (isinstance(wrapped, type) and hasattr(wrapped, "__aenter__"))
    )


def _views() -> Iterator[tuple[str, Callable[..., Any]]]:
    def walk(patterns: Any) -> Iterator[tuple[str, Callable[..., Any]]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                callback = pattern.callback
                view_class = getattr(callback, "view_class", None)
                if view_class is None:
                    yield pattern.lookup_str, callback
                    continue
                for method in view_class.http_method_names:
                    handler = getattr(view_class, method, None)
                    if callable(handler):
                        yield f"{view_class.__module__}.{view_class.__qualname__}.{method}", handler

    yield from walk(get_resolver().url_patterns)
