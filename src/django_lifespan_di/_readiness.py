"""Where this process is in its lifespan, as the readiness probe reports it.

The lifespan handler moves it on; :mod:`django_lifespan_di.health` reads it. ``None``: no
lifespan has begun in this process (daphne, ``runserver``, a server run with lifespan off).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Phase", "current", "move_to"]

Phase = Literal["starting", "ready", "failed", "stopping", "stopped"]

_phase: Phase | None = None


def move_to(phase: Phase) -> None:
    """Record that the lifespan has reached ``phase``."""
    global _phase
    _phase = phase


def current() -> Phase | None:
    """The phase the lifespan is in, or ``None`` if none has begun in this process."""
    return _phase
