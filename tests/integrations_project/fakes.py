"""A stand-in for the shared session in the tests that override it."""

from __future__ import annotations

from typing import Any


class FakeResponse:
    def __init__(self, data: Any) -> None:
        self.data = data

    async def json(self) -> Any:
        return self.data

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class FakeSession:
    """Answers every GET with the forecast it was given, and records what was asked."""

    def __init__(self, sky: str = "fake rain") -> None:
        self.sky = sky
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str, **kwargs: Any) -> FakeResponse:
        self.requests.append((url, kwargs))
        return FakeResponse({"city": kwargs.get("params", {}).get("city", ""), "sky": self.sky})
