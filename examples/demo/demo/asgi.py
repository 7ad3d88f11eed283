"""The ASGI entry point: ``uvicorn demo.asgi:application --lifespan on``."""

from __future__ import annotations

import os

from django_lifespan_di.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

# Django's own handler ignores the lifespan protocol; this one starts and stops the container.
application = get_asgi_application()
