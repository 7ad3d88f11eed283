"""The ASGI application: Django (this library's handler) for HTTP, Channels for websockets.

``LifespanMiddleware`` gives the router the lifespan that ``ProtocolTypeRouter`` lacks: the
container's resources start once at startup and stop once at shutdown, and the handler it
finds under ``"http"`` gets its ``REQUEST_THREADS`` pool closed then.
"""

from __future__ import annotations

import os

from channels.routing import ProtocolTypeRouter, URLRouter

from django_lifespan_di.asgi import LifespanMiddleware, get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations_project.settings")
# [composition]
django_application = get_asgi_application()  # sets Django up: import the consumers after it

from tests.integrations_project.routing import websocket_urlpatterns  # noqa: E402

application = LifespanMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_application,
            "websocket": URLRouter(websocket_urlpatterns),
        }
    )
)
# [composition-end]
