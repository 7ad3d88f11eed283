"""The ASGI application uvicorn serves in the request-scope server tests."""

from __future__ import annotations

import os

from django_lifespan_di.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.request_scope_project.settings")

application = get_asgi_application()
