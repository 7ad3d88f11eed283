from __future__ import annotations

from django.urls import path

from weather import class_views, views

urlpatterns = [
    path("forecast", views.forecast),
    path("forecast/class", class_views.ForecastView.as_view()),
]
