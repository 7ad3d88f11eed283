from __future__ import annotations

from django.urls import path

from benchmarks.apps import views_di
from benchmarks.apps.urls_plain import urlpatterns as plain_patterns

urlpatterns = [
    *plain_patterns,
    path("injected", views_di.injected),
    path("injected-httpx", views_di.injected_httpx),
]
