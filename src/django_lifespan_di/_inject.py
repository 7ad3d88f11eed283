"""``inject``: dependency-injector's ``@inject``, without wiring and without its per-call cost.

Stock ``@inject`` needs the module to be wired (forget it and the view receives the marker
object) and costs microseconds per call even for a ready resource. This one resolves the
``Provide[...]`` markers against the process's container on first use (again whenever the
container is rebuilt, as in tests), and then hands a started ``LifespanResource`` to the
function with a dictionary lookup.

The markers a parameter carries are found by :func:`find_markers`, the one scanner that the
system checks use too: a ``Provide[...]`` default or an ``Annotated[T, Provide[...]]`` hint.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import typing
from asyncio import get_running_loop
from collections.abc import Callable
from inspect import isawaitable
from typing import Any, TypeVar, cast

from dependency_injector import containers
from dependency_injector.wiring import Closing, Provide, Provider, ProvidersMap

from django_lifespan_di import _container
from django_lifespan_di._resource import AsyncResourceRequiredError, LifespanResource

__all__ = ["find_markers", "inject", "injected_markers", "marker_text"]

F = TypeVar("F", bound=Callable[..., Any])

# The stubs declare the markers as instances; at run time they are classes.
_PROVIDE = cast("type[Any]", Provide)
_PROVIDER = cast("type[Any]", Provider)
_CLOSING = cast("type[Any]", Closing)
_MARKERS = (_PROVIDE, _PROVIDER, _CLOSING)

_MARKERS_ATTRIBUTE = "__django_lifespan_di_markers__"
_UNRESOLVED = object()


def injected_markers(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The markers a function decorated with :func:`inject` resolves, or ``None``."""
    return getattr(fn, _MARKERS_ATTRIBUTE, None)


def find_markers(fn: Callable[..., Any]) -> dict[str, Any]:
    """The injection markers of ``fn``'s parameters: a marker default, or ``Annotated`` metadata.

    Annotations written as strings (``from __future__ import annotations``) are evaluated; an
    ``Annotated`` hint that cannot be evaluated yet is a ``TypeError`` saying so.
    """
    try:
        inspect.signature(fn)
    except (TypeError, ValueError):
        return {}  # a callable with no signature to read (a C function) asks for nothing
    return {name: marker for name, (marker, _) in _scan(fn)[1].items()}


def _scan(
    fn: Callable[..., Any],
) -> tuple[inspect.Signature, dict[str, tuple[Any, bool]]]:
    """``fn``'s signature and, by parameter, its marker and whether it came from ``Annotated``."""
    try:
        signature = inspect.signature(fn, eval_str=True)
    except NameError as exc:
        signature = inspect.signature(fn)
        hinted = [
            name
            for name, parameter in signature.parameters.items()
            if isinstance(parameter.annotation, str) and "Provide" in parameter.annotation
        ]
        if hinted:
            raise TypeError(
                f"{fn.__qualname__}: the annotation of {', '.join(hinted)} cannot be evaluated "
                f"({exc}), so its Annotated[..., Provide[...]] marker cannot be read. Import the "
                "names it uses at module level (not under TYPE_CHECKING), or give the parameter "
                "a Provide[...] default instead."
            ) from exc
    found: dict[str, tuple[Any, bool]] = {}
    for name, parameter in signature.parameters.items():
        if isinstance(parameter.default, _MARKERS):
            found[name] = (parameter.default, False)
            continue
        if typing.get_origin(parameter.annotation) is typing.Annotated:
            for candidate in parameter.annotation.__metadata__:
                if isinstance(candidate, _MARKERS):
                    found[name] = (candidate, True)
                    break
    return signature, found


def marker_text(marker: Any) -> str:
    """``Provide[Container.http_session]``, as the user wrote it (not an object address)."""
    kind = type(marker).__name__
    target = marker.provider
    if isinstance(marker, _CLOSING):
        return f"{kind}[{marker_text(target)}]"
    if isinstance(target, str):
        return f"{kind}[{target!r}]"
    return f"{kind}[{_provider_text(target)}]"


def _provider_text(provider: Any) -> str:
    for declared in _declared_containers():
        for name, each in _container.provider_names(declared).items():
            if each is provider:
                return f"{declared.__qualname__}.{name}"
    return f"<{type(provider).__name__} of no declared container>"


def _declared_containers() -> list[type[Any]]:
    found: list[type[Any]] = []
    pending: list[type[Any]] = [containers.DeclarativeContainer]
    while pending:
        subclasses = pending.pop().__subclasses__()
        found += subclasses  # a class of two parents twice: harmless, it is only searched
        pending += subclasses
    return found


def inject(fn: F) -> F:
    """Give ``fn`` the providers its ``Provide[...]`` markers name, from the process container.

    Works on sync and async functions, async generator functions and methods (class-based views
    included), needs no wiring, and honours overrides. The injected parameters are hidden from
    the returned function's signature and annotations (Django Ninja builds its schema from
    them); pass one by keyword to give it yourself. Async resources need an async function:
    nothing is resolved before the coroutine runs, so ``async_to_sync`` and ``asyncio.run`` can
    create it outside the event loop that runs it.
    """
    if hasattr(fn, "_ninja_operation"):
        raise TypeError(
            f"{fn.__qualname__} is already a Django Ninja operation, which would call it "
            "without injecting anything: put @inject below the @api.get(...) (or @router...) "
            "decorator, right above the function."
        )
    signature, scanned = _scan(fn)
    markers: dict[str, Any] = {}
    for name, (marker, _) in scanned.items():
        if isinstance(marker, _CLOSING):
            raise TypeError(
                f"{fn.__qualname__}: Closing[...] markers need dependency-injector's own "
                "@inject (dependency_injector.wiring.inject) and wiring."
            )
        if signature.parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"{fn.__qualname__}: the injected parameter {name!r} is positional-only, so it "
                "can only be passed by position and cannot be injected. Move it after the '/' "
                "of the signature."
            )
        markers[name] = marker
    if not markers:
        raise TypeError(
            f"{fn.__qualname__} has no Provide[...] default to inject; remove @inject "
            "or give a parameter a default such as Provide[Container.http_session]."
        )
    # The container the markers were last resolved against, and what they resolved to.
    resolved: list[Any] = [_UNRESOLVED, ()]
    registry = _container._registry

    def targets() -> tuple[tuple[str, Any, bool], ...]:
        container = registry.container
        if resolved[0] is container:
            return resolved[1]  # type: ignore[no-any-return]
        if container is None:
            container = _container.get_container()  # raises the reason there is none
        resolved[1] = _resolve(fn, container, markers)
        resolved[0] = container
        return resolved[1]  # type: ignore[no-any-return]

    def provide(kwargs: dict[str, Any]) -> list[tuple[str, Any]] | None:
        """Fill ``kwargs`` with what is at hand; return what is still to be awaited.

        Called from inside the running coroutine (a plain function: no frame per call).
        """
        loop = get_running_loop()
        pending = None
        try:
            for name, provider, fast in targets():
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
        return pending

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_injecting(*args: Any, **kwargs: Any) -> Any:
            pending = provide(kwargs)
            if pending is not None:
                await _settle(kwargs, pending)
            return await fn(*args, **kwargs)

        wrapper = async_injecting
    elif inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def async_generator_injecting(*args: Any, **kwargs: Any) -> Any:
            pending = provide(kwargs)
            if pending is not None:
                await _settle(kwargs, pending)
            async with contextlib.aclosing(fn(*args, **kwargs)) as generator:
                async for item in generator:
                    yield item

        wrapper = async_generator_injecting
    else:

        @functools.wraps(fn)
        def sync_injecting(*args: Any, **kwargs: Any) -> Any:
            for name, provider, _ in targets():
                if name not in kwargs:
                    kwargs[name] = _sync_value(fn, name, markers[name], provider)
            return fn(*args, **kwargs)

        wrapper = sync_injecting

    _hide_injected(wrapper, signature, markers)
    setattr(wrapper, _MARKERS_ATTRIBUTE, markers)
    return cast(F, wrapper)


async def _settle(kwargs: dict[str, Any], pending: list[tuple[str, Any]]) -> None:
    for name, value in pending:
        kwargs[name] = await value


def _sync_value(fn: Callable[..., Any], name: str, marker: Any, provider: Any) -> Any:
    try:
        value = provider()
    except AsyncResourceRequiredError as exc:
        raise _sync_refusal(fn, name, marker) from exc
    if isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited: no "never awaited" warning
        else:
            # A future of dependency-injector's async mode: nobody will read its result.
            cast("Any", value).cancel()
        raise _sync_refusal(fn, name, marker)
    return value


def _sync_refusal(fn: Callable[..., Any], name: str, marker: Any) -> AsyncResourceRequiredError:
    return AsyncResourceRequiredError(
        f"{fn.__qualname__} is a sync function but asks for {name}={marker_text(marker)}, "
        "which is provided asynchronously (an async resource, or something built from one). "
        f"Declare {fn.__qualname__} `async def`, or inject a sync provider."
    )


def _hide_injected(
    wrapper: Callable[..., Any], signature: inspect.Signature, markers: dict[str, Any]
) -> None:
    """Show the wrapper's callers only the parameters they pass: the injected ones are gone
    from its ``__signature__`` and ``__annotations__``.

    Whatever builds on the signature then sees the real parameters alone: Django Ninja and
    pydantic (which cannot make a schema of a ``ClientSession``), DRF, ``help()``, and
    dependency-injector's ``wire()``, which patches any function whose signature shows a marker
    (this one injects by itself). The annotations shown are evaluated: a framework resolving
    strings would look in this module's globals, not the function's.
    """
    shown = signature.replace(
        parameters=[each for name, each in signature.parameters.items() if name not in markers]
    )
    wrapper.__signature__ = shown  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        name: each.annotation
        for name, each in shown.parameters.items()
        if each.annotation is not inspect.Parameter.empty
    } | (
        {"return": shown.return_annotation}
        if shown.return_annotation is not inspect.Signature.empty
        else {}
    )


def _resolve(
    fn: Callable[..., Any], container: Any, markers: dict[str, Any]
) -> tuple[tuple[str, Any, bool], ...]:
    providers_map = ProvidersMap(container)
    resolved = []
    for name, marker in markers.items():
        provider = providers_map.resolve_provider(marker.provider, marker.modifier)
        if provider is None:
            raise LookupError(
                f"{fn.__qualname__}({name}={marker_text(marker)}) names no provider of the "
                f"container {_container.container_name(container)}."
            )
        if isinstance(marker, _PROVIDER):
            # Provider[...] asks for the provider itself, not what it provides.
            resolved.append((name, provider.provider, False))
        else:
            resolved.append((name, provider, isinstance(provider, LifespanResource)))
    return tuple(resolved)
