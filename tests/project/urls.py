from __future__ import annotations

from django.urls import path

from tests.project import views

urlpatterns = [
    path("proxy", views.proxy),
    path("by-name", views.by_name),
    path("cbv", views.ProxyView.as_view()),
]


class SyncViewUrls:
    """A sync view asking for the async session: check E013 reports it, so it is kept out of
    the project's own URLconf (whose checks every lifespan startup runs)."""

    urlpatterns = [path("sync", views.sync_view)]
