"""How-to examples: override the injected session with a fake (included in the docs)."""

# [imports]
from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from django.test import AsyncClient, TestCase
from fakes import FakeSession

from django_lifespan_di.testing import lifespan_client, override_providers

# [/imports]


# [context-manager]
@pytest.mark.asyncio
async def test_forecast_with_a_fake_session() -> None:
    fake = FakeSession({"city": "Oslo", "sky": "clear"})
    with override_providers(http_session=fake):
        response = await AsyncClient().get("/forecast", {"city": "Oslo"})
    assert response.json() == {"city": "Oslo", "sky": "clear"}
    assert fake.requests == [("/forecast", {"params": {"city": "Oslo"}})]


# [/context-manager]


# [test-case]
@override_providers(http_session=FakeSession({"sky": "rain"}))
class ForecastTests(TestCase):
    async def test_forecast(self) -> None:
        response = await self.async_client.get("/forecast", {"city": "Bergen"})
        self.assertEqual(response.json(), {"sky": "rain"})


# [/test-case]


# [lifespan-client]
@pytest.mark.asyncio
async def test_forecast_after_a_real_startup() -> None:
    fake = FakeSession({"sky": "fog"})
    async with lifespan_client() as client:  # the same startup and shutdown as in production
        with override_providers(http_session=fake):
            response = await client.get("/forecast", {"city": "London"})
    assert response.json() == {"sky": "fog"}


# [/lifespan-client]


# [fixtures]
@pytest.mark.asyncio
async def test_forecast_with_fixtures(override_provider: Any, lifespan_client: Any) -> None:
    override_provider("http_session", FakeSession({"sky": "snow"}))
    response = await lifespan_client.get("/forecast", {"city": "Tromsø"})
    assert response.json() == {"sky": "snow"}


# [/fixtures]


# aioresponses 0.7.9 cannot build responses for aiohttp 3.14 (aioresponses issue #289); the
# suite runs this example on aiohttp 3.13 too, where it passes. Strict: a fixed release shows up.
AIORESPONSES_BROKEN = tuple(map(int, aiohttp.__version__.split(".")[:2])) >= (3, 14)


@pytest.mark.xfail(AIORESPONSES_BROKEN, reason="aioresponses#289", raises=TypeError, strict=True)
# [aioresponses]
@pytest.mark.asyncio
async def test_forecast_through_the_real_session(lifespan_client: Any) -> None:
    # The real shared session runs; only the upstream's answer is faked, at the network edge.
    with aioresponses() as upstream:
        upstream.get("https://api.example.com/forecast?city=Paris", payload={"sky": "sun"})
        response = await lifespan_client.get("/forecast", {"city": "Paris"})
    assert response.json() == {"sky": "sun"}


# [/aioresponses]
