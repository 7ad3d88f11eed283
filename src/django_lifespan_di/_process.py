"""The configured process: what the settings, the container and the checks add up to.

Public modules (the ASGI handler, the commands, the background loop) get the lifecycle and
the request-thread pool from here, the checks first; the checks module only checks.
"""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from django_lifespan_di import _container
from django_lifespan_di._lifecycle import Lifecycle
from django_lifespan_di._request_threads import RequestThreadPool
from django_lifespan_di.exceptions import StartupError

__all__ = ["TAG", "check_configuration", "configured_lifecycle", "configured_request_threads"]

TAG = "django_lifespan_di"
"""The tag of this library's system checks."""


def check_configuration() -> None:
    """Run the checks; raise :class:`~django_lifespan_di.StartupError` listing the errors."""
    errors = [message for message in checks.run_checks(tags=[TAG]) if message.is_serious()]
    if errors:
        listing = "\n".join(f"  {message}" for message in errors)
        raise StartupError(
            "configuration", f"the system checks found {len(errors)} error(s):\n{listing}"
        )


def configured_lifecycle() -> Lifecycle:
    """Run the checks, then return the lifecycle of the configured container.

    Raises :class:`~django_lifespan_di.StartupError` listing the errors the checks found.
    """
    check_configuration()
    settings = _container.get_lifespan_settings()
    return Lifecycle(
        _container.get_container(),
        startup_timeout=settings.startup_timeout,
        shutdown_timeout=settings.shutdown_timeout,
        on_startup=settings.on_startup,
        on_shutdown=settings.on_shutdown,
    )


def configured_request_threads() -> RequestThreadPool | None:
    """The request-thread pool ``REQUEST_THREADS`` asks for, or ``None`` (off, or misconfigured:
    the checks report that, and fail the startup)."""
    try:
        options = _container.get_lifespan_settings().request_threads
    except ImproperlyConfigured:
        return None
    if options is None:
        return None
    return RequestThreadPool(max_idle=options.max_idle, idle_timeout=options.idle_timeout)
