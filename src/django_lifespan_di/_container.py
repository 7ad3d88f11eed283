"""The one container of this process: built and wired when Django is ready."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from dependency_injector import providers
from django.core.exceptions import ImproperlyConfigured

from django_lifespan_di._request_scope import RequestResource
from django_lifespan_di._resource import LifespanResource, pin_async_dependents
from django_lifespan_di.conf import ConfigurationError, LifespanSettings, get_settings

__all__ = [
    "container_name",
    "get_container",
    "get_lifespan_settings",
    "provider_names",
    "setup",
    "wired_modules",
]


class _Registry:
    container: Any = None
    settings: LifespanSettings | None = None
    error: ConfigurationError | None = None


_registry = _Registry()


def setup() -> None:
    """Read the settings, instantiate the container and wire it (from ``AppConfig.ready``).

    A configuration mistake is kept, not raised, so that ``manage.py check`` can report it with
    its id; serving raises it (:func:`get_container`).
    """
    _registry.container = _registry.settings = _registry.error = None
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        _registry.error = exc
        return
    try:
        # Instantiating a DeclarativeContainer wires its own wiring_config.
        container = settings.container()
        packages = [module for module in settings.wire if hasattr(module, "__path__")]
        modules = [module for module in settings.wire if not hasattr(module, "__path__")]
        if packages or modules:
            container.wire(modules=modules, packages=packages)
    except ImportError as exc:
        _registry.error = ConfigurationError(
            "django_lifespan_di.E006",
            f"Wiring the container {settings.container.__qualname__} failed: {exc}. Check the "
            "modules and packages in its wiring_config and in DJANGO_LIFESPAN_DI['WIRE'].",
        )
        return
    for name, provider in provider_names(container).items():
        if isinstance(provider, (LifespanResource, RequestResource)):
            provider.name = name
    pin_async_dependents(container)
    _registry.container = container
    _registry.settings = settings


def get_container() -> Any:
    """Return the process's container instance, as named by ``DJANGO_LIFESPAN_DI['CONTAINER']``."""
    if _registry.error is not None:
        raise _registry.error
    if _registry.container is None:
        raise ImproperlyConfigured(
            "No container has been set up: add 'django_lifespan_di' to INSTALLED_APPS and "
            "call django.setup() (get_asgi_application() does) before asking for it."
        )
    return _registry.container


def get_lifespan_settings() -> LifespanSettings:
    """The validated settings the container was built from."""
    get_container()
    assert _registry.settings is not None
    return _registry.settings


def wired_modules() -> tuple[list[ModuleType], list[ModuleType]]:
    """The modules and packages the container is wired to."""
    container = get_container()
    return list(container.wired_to_modules), list(container.wired_to_packages)


def container_name(container: Any) -> str:
    """The name of the class the user declared (an instance of it is a DynamicContainer)."""
    declared = getattr(container, "declarative_parent", None) or type(container)
    return str(declared.__qualname__)


def provider_names(container: Any) -> dict[str, Any]:
    """Every provider of ``container`` by dotted name (``"clients.http"`` in a nested one)."""
    names: dict[str, Any] = {}

    def walk(prefix: str, mapping: Any) -> None:
        for name, provider in mapping.items():
            names[prefix + name] = provider
            if isinstance(provider, (providers.Container, providers.DependenciesContainer)):
                walk(f"{prefix}{name}.", provider.providers)

    walk("", container.providers)
    return names
