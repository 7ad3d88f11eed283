"""A child process the tests start, whose output is read line by line as it comes.

The server tests (``tests/test_server.py``) and the real-server suite (``tests/integration``)
both wait on what a server writes, with deadlines, and must never leave it running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO

__all__ = ["DEADLINE", "ChildProcess"]

DEADLINE = 30.0
"""Seconds a process gets to become ready, or to exit."""


class ChildProcess:
    """A process in a process group of its own, its stdout and stderr collected as they come.

    Its own group lets a test signal the process alone (``kill``, as an orchestrator does) or
    the whole group (Ctrl-C in a terminal), and lets ``kill`` reach workers it forked.
    """

    def __init__(
        self, name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path
    ) -> None:
        self.name = name
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        self._lines: list[tuple[str, str]] = []  # (stream name, line), in the order read
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                self._lines.append((name, line))
                self._changed.notify_all()
        with self._changed:  # the stream closed: the process is gone, wake the waiters
            self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything the process wrote so far, stdout and stderr interleaved as read."""
        with self._changed:
            return "".join(line for _, line in self._lines)

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        with self._changed:
            return "".join(line for name, line in self._lines if name == "stderr")

    def wait_for_output(self, found: Callable[[str], bool], timeout: float) -> bool:
        """Wait (bounded) until ``found(output)`` or the process exits; whether it was found."""
        with self._changed:  # a reentrant lock: ``output`` takes it again
            self._changed.wait_for(
                lambda: found(self.output) or self.process.poll() is not None, timeout
            )
            return found(self.output)

    def stop(self, signum: int = signal.SIGTERM, *, group: bool = False) -> None:
        """Send ``signum`` to the process, or to its whole process group."""
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def wait(self, timeout: float = DEADLINE) -> int:
        """Wait (bounded) for the process to exit and its output to be read; its exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} did not exit within {timeout} s:\n{self.output}"
            ) from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self, timeout: float = DEADLINE) -> None:
        """Kill what is left of this process's group (workers too), reap it, close its pipes."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout)
        # Workers outlive a killed master only briefly: they are in the same group.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
