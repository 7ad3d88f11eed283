from __future__ import annotations

import pytest
from django.test import AsyncClient

from tests.driver import drive_lifespan


@pytest.mark.asyncio
@pytest.mark.usefixtures("upstream")
async def test_lifespan_then_request() -> None:
    """A request after lifespan startup gets the session started at startup."""
    async with drive_lifespan() as run:
        assert run.types == ["lifespan.startup.complete"]
        session = run.state["django_lifespan_di"]["http_session"]
        response = await AsyncClient().get("/proxy")
        assert response.status_code == 200
        assert response.json()["session"] == id(session)
    assert run.types[-1] == "lifespan.shutdown.complete"
    assert session.closed
