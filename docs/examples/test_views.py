"""Tutorial examples: the class-based view, and both views under Django's sync test client."""

# [imports]
from __future__ import annotations

import pytest
from django.test import AsyncClient, Client
from fakes import FakeSession

from django_lifespan_di.testing import override_providers

# [/imports]


# [class-based-test]
@pytest.mark.asyncio
async def test_class_based_forecast() -> None:
    fake = FakeSession({"city": "Oslo", "sky": "clear"})
    with override_providers(http_session=fake):
        response = await AsyncClient().get("/forecast/class", {"city": "Oslo"})
    assert response.json() == {"city": "Oslo", "sky": "clear"}
    assert fake.requests == [("/forecast", {"params": {"city": "Oslo"}})]


# [/class-based-test]


# [sync-client]
URLS = ["/forecast", "/forecast/class"]


@pytest.mark.parametrize("url", URLS)
def test_sync_client_gets_the_injected_session(url: str) -> None:
    """Django's sync Client runs the async views in an event loop of its own: injection works."""
    fake = FakeSession({"sky": "rain"})
    with override_providers(http_session=fake):
        response = Client().get(url, {"city": "Bergen"})
    assert (response.status_code, response.json()) == (200, {"sky": "rain"})
    assert fake.requests == [("/forecast", {"params": {"city": "Bergen"}})]


# [/sync-client]
