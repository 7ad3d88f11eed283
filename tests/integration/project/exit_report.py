"""At interpreter exit, report which resources of the container are still open.

It is registered before django_lifespan_di is imported, and ``atexit`` runs handlers last in,
first out, so it reports after the library closed what was left open (the lazy instances of a
server without lifespan). Servers that end their process by a signal or ``os._exit`` run no
exit handlers, so for them there is no report.
"""

from __future__ import annotations

import atexit
import os
import sys

MARKER = "integration-exit"


def report() -> None:
    """Write ``integration-exit [pid] open resources: <names or none>`` to stderr."""
    if "django_lifespan_di" not in sys.modules:
        return
    from dependency_injector import providers

    from django_lifespan_di import get_container

    try:
        container = get_container()
    except Exception as exc:  # no container: report why instead of failing at exit
        sys.stderr.write(f"{MARKER} [{os.getpid()}] no container: {exc}\n")
        return
    still_open = [
        name
        for name, provider in container.providers.items()
        if isinstance(provider, providers.BaseResource) and provider.initialized
    ]
    sys.stderr.write(
        f"{MARKER} [{os.getpid()}] open resources: {', '.join(still_open) or 'none'}\n"
    )
    sys.stderr.flush()


atexit.register(report)
