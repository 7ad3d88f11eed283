"""Django's own ASGI entry point (no lifespan), for the variants without the library."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

application = get_asgi_application()
