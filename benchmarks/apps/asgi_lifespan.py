"""django-lifespan-di's entry point: the ``LifespanASGIHandler``."""

from __future__ import annotations

from django_lifespan_di.asgi import get_asgi_application

application = get_asgi_application()
