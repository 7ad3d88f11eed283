"""Settings of a process using a container of ``tests.sync_containers`` (``SYNC_CONTAINER``)."""

from __future__ import annotations

import os

from tests.project.settings import *  # noqa: F403
from tests.project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.sync_app"]
ROOT_URLCONF = "tests.sync_containers"
DJANGO_LIFESPAN_DI = {
    "CONTAINER": f"tests.sync_containers.{os.environ.get('SYNC_CONTAINER', 'Pooled')}",
}
