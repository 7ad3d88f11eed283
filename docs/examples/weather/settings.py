from __future__ import annotations

SECRET_KEY = "docs-example"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "weather.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

INSTALLED_APPS = ["django_lifespan_di"]

DJANGO_LIFESPAN_DI = {"CONTAINER": "weather.containers.Container"}
