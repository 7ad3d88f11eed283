"""A project whose resources are used outside views: commands, Celery and Django tasks."""

from __future__ import annotations

import os

SECRET_KEY = "docs-example"
USE_TZ = True
ROOT_URLCONF = "jobs.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("JOBS_DATABASE", ":memory:"),
    }
}
INSTALLED_APPS = ["django_lifespan_di", "jobs"]
# Django tasks (jobs/weather_tasks.py) run where they are enqueued (the immediate backend, the
# default) or, with JOBS_TASKS=database, in `manage.py db_worker` of django-tasks-db.
if os.environ.get("JOBS_TASKS") == "database":
    INSTALLED_APPS += ["django_tasks_db"]  # after "jobs": jobs' db_worker command is used
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

DJANGO_LIFESPAN_DI = {"CONTAINER": "jobs.containers.Container"}

WEATHER_URL = os.environ.get("WEATHER_URL", "http://localhost:8001")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
