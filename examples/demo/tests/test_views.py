"""The demo's views, served between a real lifespan startup and shutdown."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from django.conf import settings
from django.test import AsyncClient, override_settings
from django_lifespan_di import StartupError
from django_lifespan_di.testing import lifespan_client, override_providers

from demo.upstream import QUOTES, create_app

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(name="service_url")
async def fixture_service_url() -> AsyncIterator[str]:
    """The weather service run apart from the demo, as a real one would be (no trailing /)."""
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class FakeResponse:
    """What ``FakeSession.get`` answers: a status and a JSON body."""

    def __init__(self, status: int, payload: Any) -> None:
        self.status = status
        self.payload = payload

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def json(self) -> Any:
        return self.payload


class FakeSession:
    """Stands in for the shared ``aiohttp.ClientSession``; keeps each request it was asked for."""

    timeout = aiohttp.ClientTimeout(total=1)

    def __init__(self, payload: Any, status: int = 200) -> None:
        self.response = FakeResponse(status, payload)
        self.requests: list[tuple[str, dict[str, str]]] = []

    def get(self, path: str, params: dict[str, str] | None = None) -> FakeResponse:
        self.requests.append((path, dict(params or {})))
        return self.response


async def test_weather_returns_the_upstream_report(client: AsyncClient) -> None:
    """/api/weather relays the weather service's JSON report for the city."""
    response = await client.get("/api/weather", {"city": "Oslo"})

    assert response.status_code == 200
    body = response.json()
    assert body["cached"] is False
    assert body["weather"]["city"] == "Oslo"
    assert {"temperature_c", "humidity_pct", "conditions", "observed_at"} <= body["weather"].keys()


async def test_weather_requests_share_one_pooled_connection(client: AsyncClient) -> None:
    """Requests for several cities reach the service over the same kept-alive connection."""
    seen_from = set()
    for city in ("Oslo", "Lima", "Nairobi"):
        response = await client.get("/api/weather", {"city": city})
        seen_from.add(response.json()["weather"]["seen_from"])

    assert len(seen_from) == 1


async def test_weather_repeats_come_from_the_cache(client: AsyncClient) -> None:
    """A city asked for again within DEMO_CACHE_TTL is answered from the cache."""
    first = (await client.get("/api/weather", {"city": "Lisbon"})).json()
    again = (await client.get("/api/weather", {"city": "lisbon"})).json()

    assert (first["cached"], again["cached"]) == (False, True)
    assert again["weather"] == first["weather"]


async def test_weather_without_a_city_is_a_bad_request(client: AsyncClient) -> None:
    """No city: 400 with a JSON error that says what to pass."""
    response = await client.get("/api/weather")

    assert response.status_code == 400
    assert response.json()["error"] == "missing_city"


async def test_dashboard_renders_each_city_and_quotes(client: AsyncClient) -> None:
    """The HTML dashboard shows the weather of every DEMO_CITIES city and three quotes."""
    response = await client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for city in settings.DEMO_CITIES:
        assert f">{city}</a>" in page
    for quote in QUOTES[:3]:
        assert html.escape(quote) in page


async def test_health_reports_every_resource_up(client: AsyncClient) -> None:
    """/health: each resource initialised, the session open, the cache swept, and 200."""
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    resources = body["resources"]
    assert set(resources) == {"upstream", "http_session", "cache"}
    assert all(resource["initialized"] for resource in resources.values())
    assert resources["upstream"]["embedded"] is True
    assert resources["upstream"]["url"].startswith("http://127.0.0.1:")
    assert resources["http_session"]["closed"] is False
    assert resources["http_session"]["pool_limit"] == settings.DEMO_HTTP_POOL_SIZE
    assert resources["http_session"]["timeout_s"] == settings.DEMO_HTTP_TIMEOUT
    assert resources["cache"]["sweeping"] is True


async def test_health_is_503_when_no_lifespan_ran(lifespan_container: Any) -> None:
    """Without a lifespan startup, /health starts nothing and reports every resource down."""
    response = await AsyncClient().get("/health")

    assert response.status_code == 503
    resources = response.json()["resources"]
    assert not any(resource["initialized"] for resource in resources.values())


async def test_shutdown_closes_the_session_and_stops_the_sweeper(lifespan_container: Any) -> None:
    """After the lifespan shutdown, the shared session is closed and the cache sweeper ended."""
    async with lifespan_client():
        session = lifespan_container.http_session()
        cache = lifespan_container.cache()
        assert not session.closed
        assert cache.sweeping

    assert session.closed
    assert not cache.sweeping


async def test_weather_uses_the_injected_session(lifespan_container: Any) -> None:
    """With http_session overridden by a fake, the view asks it for weather?city=..."""
    fake = FakeSession({"city": "Oslo", "conditions": "aurora"})
    with override_providers(http_session=fake):
        async with lifespan_client() as client:
            response = await client.get("/api/weather", {"city": "Oslo"})

    assert response.json() == {"weather": {"city": "Oslo", "conditions": "aurora"}, "cached": False}
    assert fake.requests == [("weather", {"city": "Oslo"})]


@pytest.mark.parametrize("status", [404, 500, 503])
async def test_an_upstream_error_status_is_a_502(lifespan_container: Any, status: int) -> None:
    """The service answering with an error status: 502 with a JSON error."""
    with override_providers(http_session=FakeSession({"error": "down"}, status=status)):
        async with lifespan_client() as client:
            response = await client.get("/api/weather", {"city": "Oslo"})

    assert response.status_code == 502
    assert response.json() == {
        "error": "bad_gateway",
        "detail": f"the weather service answered {status}",
        "status": 502,
    }


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/weather?city=Oslo", "application/json"), ("/", "text/html")],
    ids=["json", "html"],
)
async def test_an_unreachable_upstream_is_a_502(
    lifespan_container: Any, refusing_url: str, path: str, content_type: str
) -> None:
    """DEMO_UPSTREAM_URL refusing connections: 502 from both views, nothing cached."""
    with override_settings(DEMO_UPSTREAM_URL=refusing_url):
        async with lifespan_client() as client:
            response = await client.get(path)
            health = (await client.get("/health")).json()

    assert response.status_code == 502
    assert response["Content-Type"].startswith(content_type)
    assert "ClientConnectorError" in response.content.decode()
    assert health["resources"]["upstream"] == {
        "initialized": True,
        "url": refusing_url,
        "embedded": False,
    }
    assert health["resources"]["cache"]["entries"] == 0


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/weather?city=Oslo", "application/json"), ("/", "text/html")],
    ids=["json", "html"],
)
async def test_a_silent_upstream_is_a_504(
    lifespan_container: Any, silent_url: str, path: str, content_type: str
) -> None:
    """An upstream that does not answer within DEMO_HTTP_TIMEOUT: 504 from both views."""
    with override_settings(DEMO_UPSTREAM_URL=silent_url, DEMO_HTTP_TIMEOUT=0.2):
        async with lifespan_client() as client:
            response = await client.get(path)

    assert response.status_code == 504
    assert response["Content-Type"].startswith(content_type)
    assert "did not answer within 0.2 s" in response.content.decode()


async def test_a_configured_upstream_url_is_used_instead_of_the_embedded_one(
    lifespan_container: Any, service_url: str
) -> None:
    """With DEMO_UPSTREAM_URL set, the views call that service and nothing is embedded."""
    with override_settings(DEMO_UPSTREAM_URL=service_url):
        async with lifespan_client() as client:
            response = await client.get("/api/weather", {"city": "Lima"})
            health = (await client.get("/health")).json()

    assert response.json()["weather"]["city"] == "Lima"
    assert health["resources"]["upstream"] == {
        "initialized": True,
        "url": f"{service_url}/",
        "embedded": False,
    }


async def test_a_bad_pool_size_fails_the_startup_and_stops_the_service(
    lifespan_container: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An invalid DEMO_HTTP_POOL_SIZE fails the startup, naming http_session; the embedded
    service, already started, is stopped again."""
    with override_settings(DEMO_HTTP_POOL_SIZE=-1), pytest.raises(StartupError) as failure:
        async with lifespan_client():
            pytest.fail("the startup should have failed")

    assert "resource 'http_session' failed to start" in str(failure.value)
    assert "limit=...) must be a whole number >= 0" in str(failure.value)
    lifecycle = [record.getMessage().split(" in ")[0] for record in caplog.records]
    assert lifecycle.index("started upstream") < lifecycle.index("stopped upstream")
    assert not lifespan_container.upstream.initialized
