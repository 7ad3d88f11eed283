"""Django Ninja operations with ``inject``: the schema shows the real parameters only, and
the operations get the shared session (or a sync service) in every way Ninja runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from django.test import AsyncClient, Client, override_settings
from ninja import NinjaAPI
from ninja.testing import TestAsyncClient, TestClient
from pydantic.errors import PydanticSchemaGenerationError

from django_lifespan_di import inject
from django_lifespan_di.testing import lifespan, override_providers
from tests.integrations_project import settings as project_settings
from tests.integrations_project.containers import Container, Greeter
from tests.integrations_project.fakes import FakeSession
from tests.integrations_project.ninja_api import api, router
from tests.upstream import Upstream


@pytest.fixture(name="project", autouse=True)
def fixture_project(upstream: Upstream) -> Iterator[Upstream]:
    """The integrations project's URLs and container, calling the loopback upstream."""
    with override_settings(**project_settings.IN_PROCESS):
        yield upstream


def test_the_openapi_schema_shows_only_the_real_parameters() -> None:
    """Path, query and body parameters are in the schema; the injected ones nowhere."""
    schema = api.get_openapi_schema(path_prefix="")
    parameters = {
        (path, method): [(each["in"], each["name"]) for each in operation.get("parameters", [])]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }

    assert parameters == {
        ("/forecast", "get"): [("query", "city")],
        ("/shop/orders/{order_id}", "post"): [("path", "order_id"), ("query", "priority")],
        ("/shop/greet", "get"): [("query", "name")],
    }
    body = schema["paths"]["/shop/orders/{order_id}"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    assert set(schema["components"]["schemas"]) == {"Order"}
    text = json.dumps(schema)
    assert "session" not in text
    assert "greeter" not in text


@pytest.mark.asyncio
async def test_an_async_operation_gets_the_lifespans_session() -> None:
    """Served by the handler between a lifespan startup and shutdown, the operation calls the
    upstream through the session the lifespan started."""
    async with lifespan() as state:
        session = state["django_lifespan_di"]["http_session"]
        response = await AsyncClient().get("/ninja/forecast", {"city": "Oslo"})
        assert not session.closed
    assert response.status_code == 200, response.content
    assert response.json() == {"city": "Oslo", "sky": "clear"}
    assert session.closed


@pytest.mark.asyncio
async def test_a_router_operation_gets_path_query_and_body_next_to_the_session(
    project: Upstream,
) -> None:
    """Path, query and body parameters arrive as Ninja parsed them, with the session."""
    response = await AsyncClient().post(
        "/ninja/shop/orders/7?priority=true",
        {"city": "Bergen", "days": 3},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "order": 7,
        "city": "Bergen",
        "days": 3,
        "priority": True,
        "sky": "clear",
    }
    assert [seen.path for seen in project.log] == ["/forecast"]


def test_a_sync_operation_gets_a_sync_provider() -> None:
    """A sync operation (run by Django's sync test client) gets the sync service."""
    response = Client().get("/ninja/shop/greet", {"name": "Oslo"})
    assert response.status_code == 200, response.content
    assert response.json() == "Hello, Oslo"


def test_a_missing_real_parameter_is_still_ninjas_422() -> None:
    """Hiding the injected parameter leaves Ninja's validation of the real ones as it is."""
    response = Client().get("/ninja/shop/greet")
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", "name"]]


def test_ninjas_test_client_with_an_overridden_sync_provider() -> None:
    """Ninja's TestClient calls the router's operation, which gets the override."""
    with override_providers(greeter=Greeter("Hi")):
        response = TestClient(router).get("/greet?name=Oslo")
    assert response.status_code == 200
    assert response.json() == "Hi, Oslo"


@pytest.mark.asyncio
async def test_ninjas_async_test_client_with_an_overridden_session() -> None:
    """Ninja's TestAsyncClient calls the async operation, which gets the fake session."""
    fake = FakeSession()
    with override_providers(http_session=fake):
        response = await TestAsyncClient(api).get("/forecast?city=Oslo")
    assert response.status_code == 200
    assert response.json() == {"city": "Oslo", "sky": "fake rain"}
    assert fake.requests == [("/forecast", {"params": {"city": "Oslo"}})]


def test_inject_above_the_operation_decorator_is_refused_naming_the_right_order() -> None:
    """@inject over @api.get(...) (Ninja would call the function without injection) is a
    TypeError saying to put @inject below the operation decorator."""
    other = NinjaAPI(urls_namespace="wrong-order")
    with pytest.raises(TypeError, match=r"put @inject below the @api\.get\(\.\.\.\)"):

        @inject
        @other.get("/weather")
        async def weather(request: Any, session: Any = Provide[Container.http_session]) -> None:
            """The wrong order."""


def test_a_session_typed_parameter_in_the_wrong_order_fails_in_ninja_first() -> None:
    """With the wrong order and a ``ClientSession`` hint, Ninja sees the parameter before
    inject does and pydantic refuses it (the how-to names this error and its fix)."""
    other = NinjaAPI(urls_namespace="wrong-order-typed")
    with pytest.raises(PydanticSchemaGenerationError, match="ClientSession"):

        @inject
        @other.get("/weather")
        async def weather(
            request: Any, session: ClientSession = Provide[Container.http_session]
        ) -> None:
            """The wrong order."""
