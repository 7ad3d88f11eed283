from __future__ import annotations

from django.urls import path

from tests.project import views

urlpatterns = [
    path("proxy", views.proxy),
    path("by-name", views.by_name),
    path("cbv", views.ProxyView.as_view()),
    path("sync", views.sync_view),
]
