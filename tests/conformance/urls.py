"""One URL per injection style (``/style/<name>``), and ``/health`` for server readiness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import path

from tests.conformance import views, wired_views

STYLE_VIEWS: dict[str, Callable[..., Any]] = {
    "inject-function": views.inject_function,
    "inject-method": views.InjectMethod.as_view(),
    "inject-sync": views.inject_sync,
    "di-wiring": wired_views.di_wiring,
    "di-string": wired_views.di_string,
    "annotated-inject": views.annotated_inject,
    "annotated-di": wired_views.annotated_di,
    "factory-inject": views.factory_inject,
    "factory-di": wired_views.factory_di,
    "provided-inject": views.provided_inject,
    "provided-di": wired_views.provided_di,
    "no-finally-inject": views.no_finally_inject,
    "httpx-inject": views.httpx_inject,
}
"""The view of each style, by the style's name (the in-process cells call some directly)."""

urlpatterns = [
    path("health", views.health),
    *(path(f"style/{name}", view) for name, view in STYLE_VIEWS.items()),
]
