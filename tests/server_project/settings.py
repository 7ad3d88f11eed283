"""Settings for the real-server tests: the test project, with the container picked by env."""

from __future__ import annotations

import os

from tests.project.settings import *  # noqa: F403

_CASE = os.environ.get("LIFESPAN_DI_CASE", "ok")
_CONTAINERS = {
    "ok": "tests.project.containers.Container",
    "failing-resource": "tests.server_project.containers.FailingContainer",
    "cancelled-resource": "tests.server_project.containers.CancelledContainer",
    "health": "tests.health_project.Container",
    "health-gate": "tests.health_project.GateContainer",
}
if _CASE.startswith("health"):
    ROOT_URLCONF = "tests.health_project"

if _CASE == "misspelt-key":
    DJANGO_LIFESPAN_DI: dict[str, object] = {"CONTIANER": "tests.project.containers.Container"}
else:
    DJANGO_LIFESPAN_DI = {
        "CONTAINER": _CONTAINERS[_CASE],
        "STARTUP_TIMEOUT": 5,
        "SHUTDOWN_TIMEOUT": 5,
    }

if os.environ.get("LIFESPAN_DI_LOGGING") == "bare":
    # A project LOGGING that names none of our loggers and disables every existing one.
    LOGGING = {"version": 1, "disable_existing_loggers": True}
