"""The ASGI application the real-server cells serve."""

from __future__ import annotations

import os

from django_lifespan_di.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.conformance.settings")

application = get_asgi_application()
