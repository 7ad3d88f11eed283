from __future__ import annotations

from django.urls import path

from benchmarks.apps import views_plain

urlpatterns = [
    path("per-request", views_plain.per_request),
    path("per-request-httpx", views_plain.per_request_httpx),
    path("global", views_plain.module_global),
    path("const", views_plain.constant),
]
