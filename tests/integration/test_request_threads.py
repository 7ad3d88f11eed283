"""REQUEST_THREADS under every server: sync views on reused request threads, then a clean stop."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.integration.load import run_load
from tests.integration.servers import DEADLINE, SERVERS, Server, serve
from tests.integration.upstream import Upstream

REQUESTS = 2_000
CONCURRENCY = 32
THREADS_PER_WORKER = 4 * CONCURRENCY
"""A bound on the request threads a worker starts, far below its share of the requests (one
thread each under Django's own handler). Up to twice the connections are in flight (a
connection's next request starts while the previous one still closes on its thread); on a
loaded machine, a pause of over a second closes the threads beyond MAX_IDLE, to be started
again: twice that, as a margin."""


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_sync_views_run_on_reused_request_threads_and_the_server_stops_cleanly(
    server: Server, upstream: Upstream, record: Callable[..., None]
) -> None:
    """2,000 requests to a sync view at concurrency 32: no error, each on a pooled request
    thread, a few dozen threads per worker serving them all (Django's own handler starts one
    per request); SIGTERM: the server's exit code, no traceback, nothing unclosed."""
    with serve(server, upstream.url, INTEGRATION_REQUEST_THREADS="1") as process:
        process.wait_ready()
        load = run_load(
            process.url,
            ["/integration/thread"] * REQUESTS,
            concurrency=CONCURRENCY,
            keep_bodies=True,
        )
        began = time.monotonic()
        process.stop(signal.SIGTERM)
        code = process.wait()
        stop_seconds = time.monotonic() - began

    # A thread's first request of the view counts 1: these are the threads each worker used.
    threads = Counter(body["pid"] for body in load.bodies if body["served"] == 1)
    names = Counter(body["thread"].rsplit("_", 1)[0] for body in load.bodies)
    record(
        server=server.name,
        requests=load.requests,
        errors=len(load.errors),
        rps=round(load.per_second),
        threads_per_worker=dict(threads),
        most_served_by_one_thread=max((body["served"] for body in load.bodies), default=0),
        exit_code=code,
        stop_s=round(stop_seconds, 2),
    )
    assert load.errors == [], load.errors[:10]
    assert names == {"django-request": REQUESTS}
    # The kernel decides which worker accepts a connection: one may have served them all.
    assert 1 <= len(threads) <= server.workers, threads
    assert all(count <= THREADS_PER_WORKER for count in threads.values()), threads
    assert process.problems() == [], process.output
    assert code == server.sigterm_exit, process.output
    assert stop_seconds < DEADLINE
