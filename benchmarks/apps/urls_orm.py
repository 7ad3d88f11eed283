from __future__ import annotations

from django.urls import path

from benchmarks.apps import views_orm
from benchmarks.apps.urls_di import urlpatterns as di_patterns

urlpatterns = [*di_patterns, path("item", views_orm.item)]
