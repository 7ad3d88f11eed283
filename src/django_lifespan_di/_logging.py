"""A console default for our logger, for projects whose ``LOGGING`` says nothing about it.

Our lifecycle lines are INFO, and with no handler anywhere Python's last-resort handler shows
WARNING and above only: a newcomer would never see ``started http_session in 0.4 ms``. A
project that configured logging in any way that reaches our logger keeps full control.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["LOGGER_NAME", "ConsoleHandler", "install_console_default"]

LOGGER_NAME = "django_lifespan_di"
FORMAT = "%(levelname)-9s %(name)s: %(message)s"


class ConsoleHandler(logging.Handler):
    """Writes to the ``sys.stderr`` of the moment, like Python's last-resort handler.

    Not bound to the stream at creation: a test runner that swaps ``sys.stderr`` (and closes
    its replacement later) must not leave us writing to a closed file.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def install_console_default(logger: logging.Logger | None = None) -> bool:
    """Send our INFO lines to stderr unless the project's logging already decides about them.

    Adds nothing when the logger (ours by default) has a level, is disabled, does not propagate,
    or a handler sits on it or an ancestor (the root included). Idempotent; returns whether it
    added the handler.
    """
    if logger is None:
        logger = logging.getLogger(LOGGER_NAME)
    if (
        logger.level != logging.NOTSET
        or logger.disabled
        or not logger.propagate
        or logger.hasHandlers()
    ):
        return False
    handler = ConsoleHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return True
