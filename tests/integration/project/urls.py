"""The demo's URLs, plus the integration views."""

from __future__ import annotations

from demo.urls import urlpatterns as demo_urlpatterns
from django.conf import settings
from django.urls import URLPattern, path

from tests.integration.project import views

urlpatterns: list[URLPattern] = [
    *demo_urlpatterns,
    path("integration/whoami", views.whoami, name="whoami"),
    path("integration/thread", views.thread, name="thread"),
]

if settings.INTEGRATION_CASE == "stampede":
    from tests.integration.project import stampede_views

    urlpatterns.append(path("integration/search", stampede_views.search, name="search"))
