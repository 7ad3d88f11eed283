"""Django app: builds and wires the container when Django is ready, registers the checks.

It also gives our logger a console default when the project's LOGGING leaves it silent.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

from django_lifespan_di.conf import SETTING


class DjangoLifespanDIConfig(AppConfig):
    name = "django_lifespan_di"
    verbose_name = "Django lifespan DI"

    def ready(self) -> None:
        from django_lifespan_di import _container, _logging, checks

        # Django has applied the project's LOGGING by now: add our default only if it is silent.
        _logging.install_console_default()
        checks.register()
        _container.setup()
        setting_changed.connect(_rebuild_on_change, dispatch_uid="django_lifespan_di")


def _rebuild_on_change(*, setting: str, **kwargs: Any) -> None:
    # override_settings(DJANGO_LIFESPAN_DI=...) in tests takes effect like any other setting.
    if setting == SETTING:
        from django_lifespan_di import _container

        _container.setup()
