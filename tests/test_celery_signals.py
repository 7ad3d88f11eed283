"""``django_lifespan_di.celery``: the worker signals start and stop the resources per process."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from unittest import mock

import pytest

pytest.importorskip("celery", reason="celery is not installed (the test extra installs it)")

from celery import signals

from django_lifespan_di import _background, celery, sync
from tests import sync_containers
from tests.test_sync import container_settings
from tests.upstream import Upstream


@pytest.fixture(name="configured")
def fixture_configured(upstream: Upstream) -> Iterator[None]:
    sync_containers.events.clear()
    with container_settings("Pooled"):
        try:
            yield
        finally:
            sync.stop()


def test_connect_is_idempotent() -> None:
    """connect() twice connects each handler once."""
    celery.connect()
    celery.connect()
    assert signals.worker_process_init.receivers is not None
    uids = [
        key for key, _ in signals.worker_process_init.receivers if key[0] == "django_lifespan_di"
    ]
    assert len(uids) == 1


@pytest.mark.parametrize("pool", ["solo", "threads"])
def test_single_process_pools_start_at_worker_init(configured: None, pool: str) -> None:
    """solo and threads: worker_init starts the resources, worker_shutdown stops them."""
    celery._worker_init(sender=SimpleNamespace(pool_cls=pool))
    assert _background.running_lifecycle() is not None
    celery._stop()
    assert _background.running_lifecycle() is None
    assert sync_containers.events.count("stop audit") == 1


def test_prefork_main_process_checks_and_keeps_nothing(configured: None) -> None:
    """prefork: the main process starts and stops the resources once; children start their own."""
    from celery.concurrency.prefork import TaskPool

    celery._worker_init(sender=SimpleNamespace(pool_cls=TaskPool))
    assert _background.running_lifecycle() is None
    assert sync_containers.events.count("stop audit") == 1
    celery._process_init()
    assert _background.running_lifecycle() is not None


def test_unknown_pool_is_left_to_celery(configured: None) -> None:
    """A pool name Celery does not know: treated as one process; Celery reports the name."""
    celery._worker_init(sender=None)  # no sender: prefork, Celery's default
    assert _background.running_lifecycle() is None
    celery._worker_init(sender=SimpleNamespace(pool_cls="no-such-pool"))
    assert _background.running_lifecycle() is not None


def test_failing_resource_stops_the_worker(upstream: Upstream) -> None:
    """worker_init: SystemExit naming the resource; a child: it asks the main process to stop."""
    with container_settings("Failing"):
        with pytest.raises(SystemExit, match="Celery worker not started: resource 'broken'"):
            celery._worker_init(sender=SimpleNamespace(pool_cls="solo"))
        with mock.patch("os.kill") as kill, pytest.raises(SystemExit):
            celery._process_init()
        assert kill.call_count == 1


def test_shutdown_failure_is_logged_not_raised(configured: None) -> None:
    """A resource failing to stop at worker shutdown is logged; the signal handler returns."""
    sync.start()
    lifecycle = _background.running_lifecycle()
    assert lifecycle is not None

    def broken() -> None:
        raise RuntimeError("cannot stop")

    lifecycle.on_shutdown = (broken,)
    celery._stop()
    assert _background.running_lifecycle() is None
