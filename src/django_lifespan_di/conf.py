"""The ``DJANGO_LIFESPAN_DI`` settings block, read lazily and validated.

Every mistake is reported as a :class:`ConfigurationError` that names the setting, what was
found and what is expected, and carries the system check id it is reported under.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from typing import Any, TypeVar, cast

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from django_lifespan_di.exceptions import ConfigurationError

__all__ = ["SETTING", "ConfigurationError", "LifespanSettings", "RequestThreads", "get_settings"]

SETTING = "DJANGO_LIFESPAN_DI"

T = TypeVar("T")

_DEFAULT_TIMEOUT = 30.0
_KEYS = (
    "CONTAINER",
    "WIRE",
    "STARTUP_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "ON_STARTUP",
    "ON_SHUTDOWN",
    "REQUEST_THREADS",
    "HEALTH_CHECKS",
    "HEALTH_TIMEOUT",
)
_HEALTH_TIMEOUT = 5.0
_THREAD_KEYS = {"MAX_IDLE": 16, "IDLE_TIMEOUT": 60.0}
_EXAMPLE = f'{SETTING} = {{"CONTAINER": "myproject.containers.Container"}}'


@dataclass(frozen=True)
class LifespanSettings:
    """The validated settings block."""

    container: type[Any]
    wire: tuple[ModuleType, ...]
    startup_timeout: float
    shutdown_timeout: float
    on_startup: tuple[Callable[[], object], ...]
    on_shutdown: tuple[Callable[[], object], ...]
    request_threads: RequestThreads | None = None
    health_checks: Mapping[str, Callable[[Any], Awaitable[object]]] = field(default_factory=dict)
    """The health check of each resource named in ``HEALTH_CHECKS``, by provider name."""
    health_timeout: float = _HEALTH_TIMEOUT


@dataclass(frozen=True)
class RequestThreads:
    """The opt-in pool of reusable request threads (``REQUEST_THREADS``)."""

    max_idle: int
    idle_timeout: float


def get_settings() -> LifespanSettings:
    """Read and validate the settings block; raise :class:`ConfigurationError` on a mistake."""
    raw = getattr(django_settings, SETTING, None)
    if raw is None:
        raise ConfigurationError(
            "django_lifespan_di.E001",
            f"The {SETTING} setting is missing. Add it to your settings, naming your "
            f"container class: {_EXAMPLE}",
        )
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            "django_lifespan_di.E001",
            f"{SETTING} must be a dict, found {type(raw).__name__} {raw!r}. "
            f"Expected, for example: {_EXAMPLE}",
        )
    found: list[ConfigurationError] = []

    def read(validate: Callable[..., T], *args: Any) -> T | None:
        # Each setting is validated on its own, so that one check run reports every mistake.
        try:
            return validate(*args)
        except ConfigurationError as exc:
            found.append(exc)
            return None

    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        found.append(
            ConfigurationError(
                "django_lifespan_di.E002",
                f"{SETTING} has unknown key(s) {', '.join(map(repr, unknown))}; "
                f"the known keys are {', '.join(_KEYS)}.",
            )
        )
    if "CONTAINER" not in raw:
        found.append(
            ConfigurationError(
                "django_lifespan_di.E001",
                f"{SETTING}['CONTAINER'] is missing. Name your container class: {_EXAMPLE}",
            )
        )
    container = read(_container_class, raw["CONTAINER"]) if "CONTAINER" in raw else None
    wire = [
        read(_import_module, f"{SETTING}['WIRE']", path)
        for path in read(_strings, raw, "WIRE") or ()
    ]
    timeouts = [read(_timeout, raw, key) for key in ("STARTUP_TIMEOUT", "SHUTDOWN_TIMEOUT")]
    hooks = {
        key: [read(_hook, raw, key, path) for path in read(_strings, raw, key) or ()]
        for key in ("ON_STARTUP", "ON_SHUTDOWN")
    }
    request_threads = read(_request_threads, raw.get("REQUEST_THREADS"))
    health_checks = read(_health_checks, raw.get("HEALTH_CHECKS", {}))
    health_timeout = read(_health_timeout, raw)
    if found:
        raise ConfigurationError.of(found)
    return LifespanSettings(
        container=cast("type[Any]", container),
        wire=tuple(module for module in wire if module is not None),
        startup_timeout=cast(float, timeouts[0]),
        shutdown_timeout=cast(float, timeouts[1]),
        on_startup=tuple(hook for hook in hooks["ON_STARTUP"] if hook is not None),
        on_shutdown=tuple(hook for hook in hooks["ON_SHUTDOWN"] if hook is not None),
        request_threads=request_threads,
        health_checks=cast("Mapping[str, Any]", health_checks),
        health_timeout=cast(float, health_timeout),
    )


def _container_class(path: object) -> type[Any]:
    name = f"{SETTING}['CONTAINER']"
    if not isinstance(path, str):
        raise ConfigurationError(
            "django_lifespan_di.E003",
            f"{name} must be the dotted path of a container class as a string, "
            f"found {type(path).__name__} {path!r}.",
        )
    try:
        obj = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(
            "django_lifespan_di.E003",
            f"{name} is {path!r}, which cannot be imported: {exc}. "
            "Expected the dotted path of a DeclarativeContainer subclass.",
        ) from exc
    if not (isinstance(obj, type) and getattr(obj, "__IS_CONTAINER__", False)):
        raise ConfigurationError(
            "django_lifespan_di.E004",
            f"{name} is {path!r}, which is {obj!r}, not a container class. Expected a "
            "subclass of dependency_injector.containers.DeclarativeContainer.",
        )
    return obj


def _strings(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, ())
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigurationError(
            "django_lifespan_di.E005",
            f"{SETTING}[{key!r}] must be a list of dotted paths, found {value!r}.",
        )
    for item in value:
        if not isinstance(item, str):
            raise ConfigurationError(
                "django_lifespan_di.E005",
                f"{SETTING}[{key!r}] must be a list of dotted paths, "
                f"found the item {item!r} of type {type(item).__name__}.",
            )
    return tuple(value)


def _import_module(name: str, path: str) -> ModuleType:
    try:
        return import_module(path)
    except ImportError as exc:
        raise ConfigurationError(
            "django_lifespan_di.E006",
            f"{name} names {path!r}, which cannot be imported: {exc}. "
            "Expected the dotted path of a module or package to wire.",
        ) from exc


def _hook(raw: Mapping[str, Any], key: str, path: str) -> Callable[[], object]:
    try:
        hook = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(
            "django_lifespan_di.E007",
            f"{SETTING}[{key!r}] names {path!r}, which cannot be imported: {exc}. "
            "Expected the dotted path of a sync or async callable taking no arguments.",
        ) from exc
    if not callable(hook):
        raise ConfigurationError(
            "django_lifespan_di.E007",
            f"{SETTING}[{key!r}] names {path!r}, which is {hook!r}, not callable. "
            "Expected a sync or async callable taking no arguments.",
        )
    return hook  # type: ignore[no-any-return]


def _timeout(
    raw: Mapping[str, Any],
    key: str,
    *,
    prefix: str = SETTING,
    default: float = _DEFAULT_TIMEOUT,
) -> float:
    value = raw.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            "django_lifespan_di.E008",
            f"{prefix}[{key!r}] is {value!r}; expected a positive, finite number of seconds "
            f"(default {default}).",
        )
    return float(value)


def _health_checks(value: object) -> dict[str, Callable[[Any], Awaitable[object]]]:
    name = f"{SETTING}['HEALTH_CHECKS']"
    expected = (
        "expected a dict of provider names to dotted paths of async functions taking the "
        'resource, for example {"http_session": "myproject.health.ping_upstream"}'
    )
    if not isinstance(value, Mapping):
        raise ConfigurationError("django_lifespan_di.E014", f"{name} is {value!r}; {expected}.")
    found: dict[str, Callable[[Any], Awaitable[object]]] = {}
    for provider, path in value.items():
        if not isinstance(provider, str) or not isinstance(path, str):
            raise ConfigurationError(
                "django_lifespan_di.E014",
                f"{name} has the item {provider!r}: {path!r}; {expected}.",
            )
        try:
            check = import_string(path)
        except ImportError as exc:
            raise ConfigurationError(
                "django_lifespan_di.E014",
                f"{name}[{provider!r}] names {path!r}, which cannot be imported: {exc}. "
                "Expected the dotted path of an async function taking the resource.",
            ) from exc
        if not inspect.iscoroutinefunction(check):
            raise ConfigurationError(
                "django_lifespan_di.E014",
                f"{name}[{provider!r}] names {path!r}, which is {check!r}, not an async "
                "function. Expected an 'async def' taking the resource; raising means down.",
            )
        found[provider] = check
    return found


def _health_timeout(raw: Mapping[str, Any]) -> float:
    return _timeout(raw, "HEALTH_TIMEOUT", default=_HEALTH_TIMEOUT)


def _request_threads(value: object) -> RequestThreads | None:
    name = f"{SETTING}['REQUEST_THREADS']"
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, Mapping) or set(value) - set(_THREAD_KEYS):
        raise ConfigurationError(
            "django_lifespan_di.E011",
            f"{name} is {value!r}; expected None (off, the default), True, or a dict with "
            f"the keys {', '.join(_THREAD_KEYS)} (defaults {_THREAD_KEYS}).",
        )
    max_idle = value.get("MAX_IDLE", _THREAD_KEYS["MAX_IDLE"])
    if type(max_idle) is not int or max_idle < 1:
        raise ConfigurationError(
            "django_lifespan_di.E011",
            f"{name}['MAX_IDLE'] is {max_idle!r}; expected a whole number >= 1 (size it to "
            "what your database accepts: each idle thread may keep a connection).",
        )
    idle_timeout = _timeout(
        value,
        "IDLE_TIMEOUT",
        prefix=name,
        default=_THREAD_KEYS["IDLE_TIMEOUT"],
    )
    if not _asgiref_has_executor():
        raise ConfigurationError(
            "django_lifespan_di.E012",
            f"{name} needs asgiref >= 3.13 (ThreadSensitiveContext(executor=...)); "
            "upgrade asgiref, or turn REQUEST_THREADS off.",
        )
    return RequestThreads(max_idle=max_idle, idle_timeout=idle_timeout)


def _asgiref_has_executor() -> bool:
    from asgiref.sync import ThreadSensitiveContext

    return "executor" in inspect.signature(ThreadSensitiveContext).parameters
