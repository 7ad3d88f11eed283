"""URLs of the request-scope project."""

from __future__ import annotations

from django.urls import path

from tests.request_scope_project import views

urlpatterns = [
    path("plain", views.plain),
    path("wired", views.wired),
    path("unused", views.unused),
    path("ordered", views.ordered),
    path("stream", views.stream),
    path("error", views.error),
    path("broken", views.broken),
    path("hold", views.hold),
    path("concurrent", views.concurrent),
    path("cookies", views.per_request_cookies),
    path("shared-jar-cookies", views.shared_jar_cookies),
]
