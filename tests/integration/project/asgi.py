"""The demo's ASGI application, served with the integration settings.

The exit report is imported first: its ``atexit`` handler must be registered before the
library's, so that it runs after it.
"""

from __future__ import annotations

import os

from tests.integration.project import exit_report  # noqa: F401  (registers the exit report)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.project.settings")

from demo.asgi import application

__all__ = ["application"]
