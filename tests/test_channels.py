"""Channels with ``inject`` and ``LifespanMiddleware``: consumers get the shared session, and
the documented composition (``ProtocolTypeRouter``: http to this library's handler, websocket
to consumers) starts and stops the resources once and closes the request-thread pool."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from django_lifespan_di import conf
from django_lifespan_di.asgi import LifespanASGIHandler, LifespanMiddleware, _handlers_in
from django_lifespan_di.testing import lifespan, override_providers
from tests.integrations_project import settings as project_settings
from tests.integrations_project.fakes import FakeSession
from tests.integrations_project.routing import websocket_urlpatterns
from tests.request_threads_helpers import get
from tests.upstream import Upstream

CONSUMERS = [
    pytest.param("/ws/forecast", "Oslo", id="AsyncWebsocketConsumer"),
    pytest.param("/ws/json", {"city": "Oslo"}, id="AsyncJsonWebsocketConsumer"),
    pytest.param("/ws/raw", "Oslo", id="AsyncConsumer"),
]


@pytest.fixture(name="project", autouse=True)
def fixture_project(upstream: Upstream) -> Iterator[Upstream]:
    """The integrations project's URLs and container, calling the loopback upstream."""
    with override_settings(**project_settings.IN_PROCESS):
        yield upstream


def composition(handler: LifespanASGIHandler | None = None) -> LifespanMiddleware:
    """The how-to's composition (``tests/integrations_project/asgi.py``)."""
    return LifespanMiddleware(
        ProtocolTypeRouter(
            {
                "http": handler or LifespanASGIHandler(),
                "websocket": URLRouter(websocket_urlpatterns),
            }
        )
    )


async def ask(app: Any, path: str, message: str | dict[str, str]) -> dict[str, Any]:
    """Connect to ``path``, send ``message``, return the JSON answer, disconnect."""
    communicator = WebsocketCommunicator(app, path)
    connected, _ = await communicator.connect()
    assert connected
    if isinstance(message, dict):
        await communicator.send_json_to(message)
    else:
        await communicator.send_to(text_data=message)
    answer: dict[str, Any] = json.loads(await communicator.receive_from())
    await communicator.disconnect()
    return answer


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "message"), CONSUMERS)
async def test_a_consumer_handler_gets_an_overridden_session(
    path: str, message: str | dict[str, str]
) -> None:
    """With WebsocketCommunicator and override_providers, each kind of consumer's injected
    handler gets the fake session."""
    fake = FakeSession()
    with override_providers(http_session=fake):
        answer = await ask(URLRouter(websocket_urlpatterns), path, message)
    assert (answer["city"], answer["sky"], answer["session"]) == ("Oslo", "fake rain", id(fake))
    assert fake.requests == [("/forecast", {"params": {"city": "Oslo"}})]


@pytest.mark.asyncio
async def test_every_consumer_of_the_composition_shares_the_lifespans_session(
    project: Upstream,
) -> None:
    """Under the composition's lifespan, every consumer gets the one session it started,
    which reaches the upstream; shutdown closes it."""
    app = composition()
    async with lifespan(app) as state:
        session = state["django_lifespan_di"]["http_session"]
        answers = [await ask(app, path.values[0], path.values[1]) for path in CONSUMERS]
    assert {answer["session"] for answer in answers} == {id(session)}
    assert {answer["sky"] for answer in answers} == {"clear"}
    assert [seen.path for seen in project.log] == ["/forecast"] * 3
    assert session.closed


@pytest.mark.skipif(
    not conf._asgiref_has_executor(),
    reason="REQUEST_THREADS needs asgiref >= 3.13 (ThreadSensitiveContext(executor=...))",
)
@pytest.mark.asyncio
async def test_the_composition_serves_http_on_request_threads_and_closes_their_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """REQUEST_THREADS under the composition: requests reuse a pooled thread; the lifespan
    shutdown of the middleware closes the handler's pool, once."""
    settings = {"CONTAINER": project_settings.DJANGO_LIFESPAN_DI["CONTAINER"]}
    with override_settings(DJANGO_LIFESPAN_DI={**settings, "REQUEST_THREADS": True}):
        handler = LifespanASGIHandler()
    pool = handler.request_threads
    assert pool is not None
    app = composition(handler)
    with caplog.at_level(logging.DEBUG, logger="django_lifespan_di"):
        async with lifespan(app):
            first, second = [await get(app, "/thread") for _ in range(2)]
            assert pool.idle == 1
        closed = [r for r in caplog.records if r.getMessage().startswith("closed the request")]
        pool.close()  # a second close (the exit hook's) does nothing
    names = [json.loads(each.body)["thread"] for each in (first, second)]
    assert names[0] == names[1]
    assert names[0].startswith("django-request")
    assert pool.idle == 0
    assert [r.getMessage() for r in closed] == ["closed the request threads (1 idle)"]


@pytest.mark.asyncio
async def test_after_the_middlewares_startup_the_handler_skips_its_first_request_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lifespan ran the checks already: the wrapped handler does not run them again."""
    handler = LifespanASGIHandler()
    app = composition(handler)

    async def checks_again() -> bool:
        raise AssertionError("the handler ran its checks again")

    async with lifespan(app):
        monkeypatch.setattr(handler, "_check", checks_again)
        assert (await get(app, "/health")).status == 200


def test_the_middleware_finds_the_handlers_it_wraps() -> None:
    """Handlers are found as the app, in a router's mapping, behind Channels' middleware
    (``.inner``) and behind another LifespanMiddleware (``.app``), each once."""
    one, two = LifespanASGIHandler(), LifespanASGIHandler()
    router = ProtocolTypeRouter(
        {"http": AuthMiddlewareStack(one), "websocket": URLRouter(websocket_urlpatterns)}
    )
    assert _handlers_in(one) == [one]
    assert _handlers_in(LifespanMiddleware(router)) == [one]
    assert _handlers_in(ProtocolTypeRouter({"http": one, "other": one})) == [one]
    assert sorted(map(id, _handlers_in(ProtocolTypeRouter({"a": one, "b": two})))) == sorted(
        [id(one), id(two)]
    )
    assert _handlers_in(URLRouter(websocket_urlpatterns)) == []
