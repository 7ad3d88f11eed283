"""Celery workers: the container's resources started once per worker process, closed at its end.

Call :func:`connect` where the Celery app is defined (``proj/celery.py``), and inject into
tasks with :func:`django_lifespan_di.sync.inject`. The prefork pool starts the resources in each
child process (after checking them once in the main process, before forking); the solo and
threads pools start them in the worker's process. A resource that fails to start stops the
worker with an error naming it; the worker's shutdown stops every resource, once.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from celery import signals
from celery.concurrency import get_implementation
from celery.concurrency.prefork import TaskPool as PreforkPool

from django_lifespan_di import _background
from django_lifespan_di._lifecycle import ShutdownError, StartupError, report_failure

__all__ = ["connect"]

_UID = "django_lifespan_di"


def connect() -> None:
    """Run the container's lifecycle in every Celery worker process (idempotent)."""
    signals.worker_init.connect(_worker_init, weak=False, dispatch_uid=_UID)
    signals.worker_process_init.connect(_process_init, weak=False, dispatch_uid=_UID)
    signals.worker_process_shutdown.connect(_stop, weak=False, dispatch_uid=_UID)
    signals.worker_shutdown.connect(_stop, weak=False, dispatch_uid=_UID)


def _worker_init(sender: Any = None, **kwargs: Any) -> None:
    """In the worker's main process: start the resources, or check them if it will fork."""
    import django
    from django.apps import apps

    if not apps.ready:  # pragma: no cover - a real worker's process (tests/integration)
        django.setup()  # Celery's Django fix-up does it too; the order of handlers is not ours
    prefork = _is_prefork(getattr(sender, "pool_cls", None))
    try:
        _background.start()
    except StartupError as exc:
        message = f"Celery worker not started: {exc}"
        report_failure(message)
        raise SystemExit(message) from exc
    if prefork:
        # Checked, not kept: each child starts its own, the parent's connections are useless.
        _stop()


def _process_init(**kwargs: Any) -> None:
    """In a prefork child: start its own resources; on failure stop the whole worker."""
    try:
        _background.start()
    except StartupError as exc:
        report_failure(f"Celery worker process {os.getpid()} stopping the worker: {exc}")
        os.kill(os.getppid(), signal.SIGTERM)
        raise SystemExit(1) from exc


def _stop(**kwargs: Any) -> None:
    with contextlib.suppress(ShutdownError):  # each failure is already logged
        _background.stop()


def _is_prefork(pool: Any) -> bool:
    try:
        cls = get_implementation(pool or "prefork")
    except Exception:  # an alias this Celery does not know: Celery reports it itself
        return False
    return issubclass(cls, PreforkPool)
