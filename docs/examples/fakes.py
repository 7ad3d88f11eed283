"""Test doubles for the shared ClientSession: the fakes the how-to's examples import."""

from __future__ import annotations

from typing import Any


class FakeResponse:
    """What ``FakeSession.get()`` returns: an async context manager with ``json()``."""

    def __init__(self, data: Any) -> None:
        self.data = data

    async def json(self) -> Any:
        return self.data

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class FakeSession:
    """Stands in for the shared ClientSession: answers every GET with ``data``."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str, **kwargs: Any) -> FakeResponse:
        self.requests.append((url, kwargs))
        return FakeResponse(self.data)
