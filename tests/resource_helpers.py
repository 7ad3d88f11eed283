"""Helpers for the resource tests: a counting, gated initializer and a Task counter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Instance", "Probe", "ProbeError", "counting_tasks"]


class ProbeError(Exception):
    """A start of the probe that was planned to fail."""


@dataclass(eq=False)
class Instance:
    """What the probe hands out: which start made it, and whether it was closed."""

    start: int
    closed: bool = False


class Probe:
    """A ``LifespanResource`` initializer that counts its starts and holds each one at a gate.

    ``probe.open`` is the initializer (an async generator function). Every start sets
    ``entered`` and then waits for ``gate``, so a test decides when a start in progress ends,
    without sleeping. The first ``failures`` starts raise :class:`ProbeError`.
    """

    def __init__(self, *, failures: int = 0, gated: bool = True) -> None:
        self.starts = 0
        self.failures = failures
        self.instances: list[Instance] = []
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()

    async def open(self) -> AsyncIterator[Instance]:
        self.starts += 1
        start = self.starts
        self.entered.set()
        await self.gate.wait()
        if start <= self.failures:
            raise ProbeError(f"start {start} of the probe fails, as planned")
        instance = Instance(start)
        self.instances.append(instance)
        try:
            yield instance
        finally:
            instance.closed = True


@contextmanager
def counting_tasks(loop: asyncio.AbstractEventLoop) -> Iterator[list[asyncio.Future[Any]]]:
    """Record every Task created on ``loop`` inside the block (through its task factory)."""
    created: list[asyncio.Future[Any]] = []
    previous = loop.get_task_factory()

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(previous)
