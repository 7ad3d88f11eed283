from __future__ import annotations

from django.urls import path

from weather import views

urlpatterns = [path("forecast", views.forecast)]
