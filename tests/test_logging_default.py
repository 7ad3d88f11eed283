"""The newcomer's log: lifecycle lines reach stderr without a LOGGING block, never twice."""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from django_lifespan_di._logging import LOGGER_NAME, ConsoleHandler, install_console_default
from tests.processes import ChildProcess
from tests.test_server import wait_for_port

REPO_ROOT = Path(__file__).resolve().parent.parent
# The tutorial's project: its settings have no LOGGING block, as after `startproject`.
TUTORIAL_PROJECT = REPO_ROOT / "docs" / "examples"
PLAIN = "%(levelname)s %(name)s: %(message)s"
# Project LOGGING blocks that each decide about our logger; None is the tutorial's (no block).
PROJECT_LOGGING: dict[str, dict[str, Any] | None] = {
    "no-logging-block": None,
    "root-handler": {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mine": {"format": f"ROOT {PLAIN}"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "mine"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    },
    "handler-on-our-logger": {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mine": {"format": f"OURS {PLAIN}"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "mine"}},
        "loggers": {LOGGER_NAME: {"handlers": ["console"], "level": "INFO"}},
    },
    "our-logger-at-warning": {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {LOGGER_NAME: {"level": "WARNING"}},
    },
}
# What each project sees on uvicorn's stderr: the prefix of our lines, or None for no line.
EXPECTED_PREFIX = {
    "no-logging-block": "INFO      django_lifespan_di: ",
    "root-handler": "ROOT INFO django_lifespan_di: ",
    "handler-on-our-logger": "OURS INFO django_lifespan_di: ",
    "our-logger-at-warning": None,
}


def serve_tutorial_project(tmp_path: Path, logging_config: dict[str, Any] | None) -> str:
    """Serve the tutorial's project with uvicorn, stop it with SIGTERM; its stderr."""
    settings = "weather.settings"
    if logging_config is not None:
        (tmp_path / "project_settings.py").write_text(
            f"from weather.settings import *  # noqa: F403\n\nLOGGING = {logging_config!r}\n"
        )
        settings = "project_settings"
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "LIFESPAN_DI_LOGGING"}
    }
    environ.update(
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(tmp_path), str(TUTORIAL_PROJECT), os.environ.get("PYTHONPATH")])
        ),
        DJANGO_SETTINGS_MODULE=settings,
        PYTHONUNBUFFERED="1",
    )
    command = [sys.executable, "-m", "uvicorn", "weather.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", "0", "--lifespan", "on"]
    server = ChildProcess("uvicorn", command, env=environ, cwd=TUTORIAL_PROJECT)
    try:
        wait_for_port(server)
        server.stop(signal.SIGTERM)
        code = server.wait()
        stderr = server.stderr
    finally:
        server.kill()
    # uvicorn >= 0.29 re-raises the SIGTERM it handled once it has shut down cleanly.
    assert code in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete." in stderr, stderr
    return stderr


@pytest.mark.server
@pytest.mark.parametrize("project", list(PROJECT_LOGGING))
def test_uvicorn_logs_each_lifecycle_line_once(tmp_path: Path, project: str) -> None:
    """Under uvicorn, started/stopped lines appear once each, as the project's LOGGING decides."""
    stderr = serve_tutorial_project(tmp_path, PROJECT_LOGGING[project])

    prefix = EXPECTED_PREFIX[project]
    if prefix is None:
        assert "http_session" not in stderr, stderr
    else:
        assert stderr.count("started http_session in ") == 1, stderr
        assert stderr.count("stopped http_session in ") == 1, stderr
        assert f"{prefix}started http_session in " in stderr, stderr
        assert f"{prefix}stopped http_session in " in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert "Unclosed" not in stderr, stderr


@pytest.fixture(name="logger")
def fixture_logger() -> logging.Logger:
    """Our logger as a project without LOGGING leaves it, under a root of its own.

    Outside the global hierarchy: pytest's capture handlers on the real root stay out of it.
    """
    logger = logging.Logger(LOGGER_NAME)
    logger.parent = logging.RootLogger(logging.WARNING)
    return logger


def test_default_sends_info_lines_to_stderr_once(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """With nothing configured, one console handler is added, at INFO; a second call adds none."""
    assert install_console_default(logger) is True
    assert install_console_default(logger) is False

    logger.info("started %s in %.1f ms", "http_session", 0.4)

    assert [type(handler) for handler in logger.handlers] == [ConsoleHandler]
    line = "INFO      django_lifespan_di: started http_session in 0.4 ms\n"
    assert capsys.readouterr().err == line


def test_default_writes_to_the_current_stderr(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler writes to sys.stderr as it is when logging, not as it was at setup."""
    install_console_default(logger)
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)

    logger.warning("after")

    assert replaced.getvalue() == "WARNING   django_lifespan_di: after\n"


def test_a_record_that_cannot_be_formatted_is_reported_not_raised(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken log call is reported the way logging reports it; the caller goes on."""
    install_console_default(logger)

    logger.info("%d ms", "not a number")

    assert "--- Logging error ---" in capsys.readouterr().err


def test_ready_gives_way_to_the_test_projects_logging() -> None:
    """The suite's LOGGING puts a handler on our logger: AppConfig.ready() added none of ours."""
    ours = logging.getLogger(LOGGER_NAME)

    assert ours.handlers
    assert not any(isinstance(handler, ConsoleHandler) for handler in ours.handlers)


def _root_handler(logger: logging.Logger) -> None:
    assert logger.parent is not None
    logger.parent.addHandler(logging.NullHandler())


def _handler_on_our_logger(logger: logging.Logger) -> None:
    logger.addHandler(logging.NullHandler())


def _level_on_our_logger(logger: logging.Logger) -> None:
    logger.setLevel(logging.WARNING)


def _not_propagating(logger: logging.Logger) -> None:
    logger.propagate = False


def _disabled(logger: logging.Logger) -> None:
    logger.disabled = True  # as LOGGING's disable_existing_loggers leaves it


@pytest.mark.parametrize(
    "configure",
    [_root_handler, _handler_on_our_logger, _level_on_our_logger, _not_propagating, _disabled],
)
def test_project_logging_gets_no_extra_handler(
    logger: logging.Logger, configure: Callable[[logging.Logger], None]
) -> None:
    """A project LOGGING that decides about our logger in any way is left exactly as it is."""
    configure(logger)
    assert logger.parent is not None
    before = (logger.handlers[:], logger.level, logger.parent.handlers[:])

    assert install_console_default(logger) is False

    assert (logger.handlers, logger.level, logger.parent.handlers) == before
