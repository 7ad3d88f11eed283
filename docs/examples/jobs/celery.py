from __future__ import annotations

import os

from celery import Celery

import django_lifespan_di.celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobs.settings")

app = Celery("jobs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
django_lifespan_di.celery.connect()
