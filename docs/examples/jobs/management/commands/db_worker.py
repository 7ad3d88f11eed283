"""django-tasks-db's ``db_worker``, run between the startup and shutdown of the resources."""

from __future__ import annotations

from django_tasks_db.management.commands import db_worker

from django_lifespan_di.commands import LifespanCommand


class Command(LifespanCommand, db_worker.Command):
    """Start the resources before the first task; stop them, once, when the worker exits."""
