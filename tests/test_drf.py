"""Django REST framework views with ``inject``: adrf's async APIView, ViewSet, generic view
and ``api_view``, DRF's own sync views, schema generation and the browsable API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from adrf.test import AsyncAPIRequestFactory
from django.test import AsyncClient, Client, override_settings
from rest_framework.schemas.openapi import SchemaGenerator
from rest_framework.test import APIClient, APIRequestFactory

from django_lifespan_di.testing import lifespan, override_providers
from tests.integrations_project import drf_views
from tests.integrations_project import settings as project_settings
from tests.integrations_project.containers import Greeter
from tests.integrations_project.fakes import FakeSession
from tests.upstream import Upstream


@pytest.fixture(name="project", autouse=True)
def fixture_project(upstream: Upstream) -> Iterator[Upstream]:
    """The integrations project's URLs, apps and container, calling the loopback upstream."""
    with override_settings(**project_settings.IN_PROCESS):
        yield upstream


@pytest.mark.asyncio
async def test_an_async_apiview_gets_the_lifespans_session() -> None:
    """adrf's APIView.get, decorated with inject, calls the upstream through the session the
    lifespan started (and closes at shutdown)."""
    async with lifespan() as state:
        session = state["django_lifespan_di"]["http_session"]
        response = await AsyncClient().get("/drf/forecast", {"city": "Oslo"})
        assert not session.closed
    assert response.status_code == 200, response.content
    assert response.json() == {"city": "Oslo", "sky": "clear"}
    assert session.closed


@pytest.mark.asyncio
async def test_a_viewset_lists_and_retrieves_through_the_session(project: Upstream) -> None:
    """adrf's ViewSet actions (list, and retrieve with its pk) get the session."""
    listed = await AsyncClient().get("/drf/cities?city=Oslo&city=Bergen")
    retrieved = await AsyncClient().get("/drf/cities/Tromso")
    assert listed.status_code == 200, listed.content
    assert listed.json() == [{"city": "Oslo", "sky": "clear"}, {"city": "Bergen", "sky": "clear"}]
    assert retrieved.json() == {"city": "Tromso", "sky": "clear"}
    assert [seen.path for seen in project.log] == ["/forecast"] * 3


@pytest.mark.asyncio
async def test_a_generic_list_view_serializes_what_the_session_fetched() -> None:
    """adrf's ListAPIView, with an injected get, lists through its serializer."""
    response = await AsyncClient().get("/drf/forecasts?city=Oslo&city=Bergen")
    assert response.status_code == 200, response.content
    assert response.json() == [{"city": "Oslo", "sky": "clear"}, {"city": "Bergen", "sky": "clear"}]


@pytest.mark.asyncio
async def test_an_async_api_view_function_gets_the_session() -> None:
    """adrf's @api_view over @inject: the function gets the session."""
    response = await AsyncClient().get("/drf/sky", {"city": "Oslo"})
    assert response.status_code == 200, response.content
    assert response.json() == "clear"


def test_a_sync_drf_view_gets_a_sync_provider() -> None:
    """DRF's own (sync) APIView, decorated with inject, gets the sync service."""
    response = Client().get("/drf/greeting", {"name": "Oslo"})
    assert response.status_code == 200, response.content
    assert response.json() == {"greeting": "Hello, Oslo"}


def test_schema_generation_shows_no_injected_parameter() -> None:
    """DRF's OpenAPI generator describes every view; no injected parameter appears."""
    schema = SchemaGenerator(title="integrations").get_schema(request=None, public=True)
    assert schema is not None
    assert set(schema["paths"]) == {
        "/drf/forecast",
        "/drf/cities",
        "/drf/cities/{id}",
        "/drf/forecasts",
        "/drf/sky",
        "/drf/greeting",
    }
    parameters = {
        path: [each["name"] for each in operations["get"]["parameters"]]
        for path, operations in schema["paths"].items()
    }
    assert parameters == {
        "/drf/forecast": [],
        "/drf/cities": [],
        "/drf/cities/{id}": ["id"],
        "/drf/forecasts": [],
        "/drf/sky": [],
        "/drf/greeting": [],
    }
    assert "Provide[" not in json.dumps(schema)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/drf/forecasts?city=Oslo", "Forecast List"),
        ("/drf/cities?city=Oslo", "Cities"),
        ("/drf/greeting?name=Oslo", "Hello, Oslo"),
    ],
)
def test_the_browsable_api_renders_the_injected_views(path: str, shown: str) -> None:
    """The browsable API (HTML) renders async and sync injected views, forms included."""
    response = Client().get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    assert shown in response.content.decode()


def test_apiclient_with_an_overridden_sync_provider() -> None:
    """DRF's APIClient, through the URLconf, with the sync service overridden."""
    with override_providers(greeter=Greeter("Hi")):
        response = APIClient().get("/drf/greeting", {"name": "Oslo"})
    assert response.json() == {"greeting": "Hi, Oslo"}


def test_apiclient_with_an_overridden_session() -> None:
    """DRF's APIClient calling an async view: the view gets the fake session."""
    fake = FakeSession()
    with override_providers(http_session=fake):
        response = APIClient().get("/drf/forecast", {"city": "Oslo"})
    assert response.json() == {"city": "Oslo", "sky": "fake rain"}
    assert fake.requests == [("/forecast", {"params": {"city": "Oslo"}})]


def test_apirequestfactory_with_an_overridden_sync_provider() -> None:
    """A request from DRF's APIRequestFactory, handed to the sync view directly."""
    request = APIRequestFactory().get("/drf/greeting", {"name": "Oslo"})
    with override_providers(greeter=Greeter("Hi")):
        response = drf_views.Greeting.as_view()(request)
    assert response.data == {"greeting": "Hi, Oslo"}


@pytest.mark.asyncio
async def test_async_apirequestfactory_with_an_overridden_session() -> None:
    """A request from adrf's AsyncAPIRequestFactory, awaited on the async view directly."""
    fake = FakeSession()
    request = AsyncAPIRequestFactory().get("/drf/cities/Oslo")
    with override_providers(http_session=fake):
        response = await drf_views.Cities.as_view({"get": "retrieve"})(request, pk="Oslo")
    assert response.data == {"city": "Oslo", "sky": "fake rain"}
