"""The demo's three pages: the HTML dashboard, the JSON weather API and the health report."""

from __future__ import annotations

from django.urls import path

from demo import views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("api/weather", views.weather, name="weather"),
    path("health", views.health, name="health"),
]
