"""``inject``: dependency-injector's ``@inject``, without wiring and without its per-call cost.

Stock ``@inject`` needs the module to be wired (forget it and the view receives the marker
object) and costs microseconds per call even for a ready resource. This one resolves the
``Provide[...]`` markers against the process's container on first use (again whenever the
container is rebuilt, as in tests), and then hands a started ``LifespanResource`` to the
function with a dictionary lookup.
"""

from __future__ import annotations

import functools
import inspect
from asyncio import get_running_loop
from collections.abc import Callable
from inspect import isawaitable
from typing import Any, TypeVar, cast

from asgiref.sync import markcoroutinefunction
from dependency_injector.wiring import Closing, Provide, Provider, ProvidersMap

from django_lifespan_di import _container
from django_lifespan_di._resource import LifespanResource

__all__ = ["inject", "injected_markers"]

F = TypeVar("F", bound=Callable[..., Any])

# The stubs declare the markers as instances; at run time they are classes.
_PROVIDE = cast("type[Any]", Provide)
_PROVIDER = cast("type[Any]", Provider)
_CLOSING = cast("type[Any]", Closing)

_MARKERS_ATTRIBUTE = "__django_lifespan_di_markers__"
_UNRESOLVED = object()


class _Injected:
    """The default shown in the decorated function's signature, in place of the marker.

    dependency-injector's ``wire()`` patches any function whose signature shows a marker;
    this function injects by itself, so its signature must not show one.
    """

    __slots__ = ("marker",)

    def __init__(self, marker: Any) -> None:
        self.marker = marker

    def __repr__(self) -> str:
        return f"<injected {self.marker!r}>"


def injected_markers(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The markers a function decorated with :func:`inject` resolves, or ``None``."""
    return getattr(fn, _MARKERS_ATTRIBUTE, None)


def inject(fn: F) -> F:
    """Give ``fn`` the providers its ``Provide[...]`` defaults name, from the process container.

    Works on sync and async functions and methods (class-based views included), needs no
    wiring, and honours overrides. Async resources need an async function.
    """
    signature = inspect.signature(fn)
    markers: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if isinstance(parameter.default, _CLOSING):
            raise TypeError(
                f"{fn.__qualname__}: Closing[...] markers need dependency-injector's own "
                "@inject (dependency_injector.wiring.inject) and wiring."
            )
        if isinstance(parameter.default, (_PROVIDE, _PROVIDER)):
            markers[name] = parameter.default
    if not markers:
        raise TypeError(
            f"{fn.__qualname__} has no Provide[...] default to inject; remove @inject "
            "or give a parameter a default such as Provide[Container.http_session]."
        )
    # The container the markers were last resolved against, and what they resolved to.
    resolved: list[Any] = [_UNRESOLVED, ()]
    registry = _container._registry

    def providers_for(container: Any) -> tuple[tuple[str, Any, bool], ...]:
        if container is None:
            container = _container.get_container()  # raises the reason there is none
        resolved[1] = _resolve(fn, container, markers)
        resolved[0] = container
        return resolved[1]  # type: ignore[no-any-return]

    if inspect.iscoroutinefunction(fn):

        async def resolve_then_call(
            args: tuple[Any, ...], kwargs: dict[str, Any], pending: list[tuple[str, Any]]
        ) -> Any:
            for name, value in pending:
                kwargs[name] = await value
            return await fn(*args, **kwargs)

        # Not an `async def`: when every value is at hand, it returns fn's own coroutine and
        # saves a coroutine frame per call. Marked, so Django and asyncio see a coroutine
        # function; a value still to be awaited goes through resolve_then_call.
        @functools.wraps(fn)
        def async_injecting(*args: Any, **kwargs: Any) -> Any:
            container = registry.container
            targets = resolved[1] if resolved[0] is container else providers_for(container)
            loop = get_running_loop()
            pending = None
            try:
                for name, provider, fast in targets:
                    if name in kwargs:
                        continue
                    if fast:
                        # A started LifespanResource of this loop, not overridden: no call.
                        ready = provider.ready_instance
                        if ready is not None and ready[0] is loop:
                            kwargs[name] = ready[1]
                            continue
                    value = provider()
                    if isawaitable(value):
                        pending = [*(pending or ()), (name, value)]
                    else:
                        kwargs[name] = value
            except BaseException:
                for _, value in pending or ():
                    if inspect.iscoroutine(value):
                        value.close()  # never awaited now: no "never awaited" warning
                raise
            if pending is None:
                return fn(*args, **kwargs)
            return resolve_then_call(args, kwargs, pending)

        markcoroutinefunction(async_injecting)
        wrapper: Callable[..., Any] = async_injecting
    else:

        @functools.wraps(fn)
        def sync_injecting(*args: Any, **kwargs: Any) -> Any:
            container = registry.container
            targets = resolved[1] if resolved[0] is container else providers_for(container)
            for name, provider, _ in targets:
                if name not in kwargs:
                    kwargs[name] = provider()
            return fn(*args, **kwargs)

        wrapper = sync_injecting

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            parameter.replace(default=_Injected(markers[name])) if name in markers else parameter
            for name, parameter in signature.parameters.items()
        ]
    )
    setattr(wrapper, _MARKERS_ATTRIBUTE, markers)
    return cast(F, wrapper)


def _resolve(
    fn: Callable[..., Any], container: Any, markers: dict[str, Any]
) -> tuple[tuple[str, Any, bool], ...]:
    providers_map = ProvidersMap(container)
    resolved = []
    for name, marker in markers.items():
        provider = providers_map.resolve_provider(marker.provider, marker.modifier)
        if provider is None:
            raise LookupError(
                f"{fn.__qualname__}({name}={marker!r}) names no provider of the container "
                f"{_container.container_name(container)}."
            )
        if isinstance(marker, _PROVIDER):
            # Provider[...] asks for the provider itself, not what it provides.
            resolved.append((name, provider.provider, False))
        else:
            resolved.append((name, provider, isinstance(provider, LifespanResource)))
    return tuple(resolved)
