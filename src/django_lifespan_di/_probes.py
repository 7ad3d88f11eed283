"""What a resource's instance can tell about itself: its health check and its pool's numbers.

The factories (``client_session``, ``async_client``) attach both to the client they make;
:mod:`django_lifespan_di.health` reads them. Kept by instance, weakly: an instance is one
event loop's, and goes away with it.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "PoolStats", "attach", "check_of", "stats_of"]

Check = Callable[[Any], Awaitable[object]]
"""A health check: a coroutine function given the resource's instance; it raises if down."""


@dataclass(frozen=True)
class PoolStats:
    """How full a client's connection pool is, at the moment it was read.

    ``open``: connections open (in use or idle); ``in_use``: those serving a request now;
    ``waiting``: requests waiting for a connection of the full pool; ``limit``: the most
    connections the pool opens (0: no limit).
    """

    open: int
    in_use: int
    waiting: int
    limit: int

    def as_dict(self) -> dict[str, int]:
        """The numbers by name, as the readiness JSON shows them."""
        return {
            "open": self.open,
            "in_use": self.in_use,
            "waiting": self.waiting,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class _Probe:
    check: Check | None
    stats: Callable[[Any], PoolStats] | None


_probes: weakref.WeakKeyDictionary[Any, _Probe] = weakref.WeakKeyDictionary()


def attach(
    instance: Any, *, check: Check | None = None, stats: Callable[[Any], PoolStats] | None = None
) -> None:
    """Record the default health check and the pool reader of ``instance``.

    Both are given the instance when called: holding it here would keep it alive.
    """
    _probes[instance] = _Probe(check, stats)


def _probe(instance: Any) -> _Probe | None:
    try:
        return _probes.get(instance)
    except TypeError:  # not weakly referenceable (an int, a dict): nothing was attached
        return None


def check_of(instance: Any) -> Check | None:
    """The default health check attached to ``instance``, if any."""
    probe = _probe(instance)
    return probe.check if probe is not None else None


def stats_of(instance: Any) -> PoolStats | None:
    """The pool numbers of ``instance`` now, if it is a client made by one of our factories."""
    probe = _probe(instance)
    if probe is None or probe.stats is None:
        return None
    return probe.stats(instance)
