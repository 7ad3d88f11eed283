"""Django settings with django-lifespan-di: variant (c) and both handlers of the constant view."""

from __future__ import annotations

from benchmarks.apps.settings_plain import *  # noqa: F403

ROOT_URLCONF = "benchmarks.apps.urls_di"
INSTALLED_APPS = ["django_lifespan_di"]
DJANGO_LIFESPAN_DI = {"CONTAINER": "benchmarks.apps.containers.Container"}
