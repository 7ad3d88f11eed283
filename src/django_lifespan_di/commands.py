"""Management commands whose ``handle`` runs between the startup and shutdown of the resources.

Subclass :class:`LifespanCommand` instead of ``BaseCommand``: ``handle`` may be sync or
``async def``, and its ``Provide[...]`` defaults are injected::

    class Command(LifespanCommand):
        async def handle(self, *args, session: ClientSession = Provide[Container.http_session],
                         **options):
            ...
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_lifespan_di import _background, _inject
from django_lifespan_di._lifecycle import Lifecycle, ShutdownError, StartupError
from django_lifespan_di._process import configured_lifecycle

__all__ = ["LifespanCommand"]


class LifespanCommand(BaseCommand):
    """A command run with the container's resources started, as a server would start them.

    Before ``handle``: the ordered startup (rollback, timeouts, one log line per resource) on
    the process's background loop; a failure ends the command with a ``CommandError`` naming
    the resource (``manage.py`` exits 1). After ``handle``: the ordered shutdown. If the loop
    already runs (a command called from another), it is used and left running.
    """

    lifecycle: Lifecycle | None = None
    """The lifecycle this run of the command started (its ``events``), if it started one."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handle = cls.__dict__.get("handle")
        if handle is None:
            return
        if inspect.iscoroutinefunction(handle):
            cls.handle = _background.blocking(handle)  # type: ignore[method-assign]
        elif _inject.find_markers(handle):
            cls.handle = _background.inject(handle)  # type: ignore[method-assign]

    def execute(self, *args: Any, **options: Any) -> str | None:
        started = False
        if _background.running_lifecycle() is None:
            try:
                self.lifecycle = configured_lifecycle()
                started = _background.start(self.lifecycle)
            except StartupError as exc:
                raise CommandError(f"startup failed: {exc}") from exc
        try:
            output = super().execute(*args, **options)
        except BaseException:
            if started:
                # Logged; what ended the command is the error to report.
                with contextlib.suppress(ShutdownError):
                    _background.stop()
            raise
        if started:
            try:
                _background.stop()
            except ShutdownError as exc:
                raise CommandError(f"shutdown failed: {exc}") from exc
        return output
