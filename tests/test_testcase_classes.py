"""``override_providers`` as a class decorator of Django's test case classes.

pytest-django collects the classes here like any unittest class. Each test method sees the
fake; each class checks in ``tearDownClass`` that the real provider is back after its tests.
"""

from __future__ import annotations

import unittest
from typing import Any

import pytest
from dependency_injector import providers
from django.test import SimpleTestCase, TestCase, TransactionTestCase

from django_lifespan_di import get_container
from django_lifespan_di.testing import override_providers
from tests.project.containers import Container
from tests.testing_helpers import FAKE_PAYLOAD, FakeSession

SIMPLE_FAKE = FakeSession()
TRANSACTION_FAKE = FakeSession()
FACTORY_MADE: list[FakeSession] = []
"""Every fake :func:`make_fake` made (kept alive, so their ids stay unique)."""


def make_fake() -> FakeSession:
    fake = FakeSession()
    FACTORY_MADE.append(fake)
    return fake


def assert_real_provider_is_back() -> None:
    assert not get_container().http_session.overridden, "the override outlived the test class"


class RealProviderAfterClass:
    """Mixin: fail the class (at teardown) if an override is still applied after its tests."""

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            assert_real_provider_is_back()
        finally:
            super().tearDownClass()  # type: ignore[misc]


@override_providers(http_session=SIMPLE_FAKE)
class SimpleTestCaseTests(RealProviderAfterClass, SimpleTestCase):
    """A SimpleTestCase decorated with a plain fake object."""

    def test_sync_method_gets_the_fake_from_the_container(self) -> None:
        """A sync test method sees the fake."""
        assert get_container().http_session() is SIMPLE_FAKE

    async def test_async_method_views_get_the_fake(self) -> None:
        """An async test method: an injected view served by the async client gets the fake."""
        response = await self.async_client.get("/proxy")
        assert response.json() == {"upstream": FAKE_PAYLOAD, "session": id(SIMPLE_FAKE)}


@override_providers(http_session=providers.Factory(make_fake))
class TestCaseTests(RealProviderAfterClass, TestCase):
    """A TestCase (with its database transaction) decorated with a provider as the value."""

    def test_sync_method_gets_a_fake_from_the_factory(self) -> None:
        """A sync test method sees what the overriding provider provides."""
        provided = get_container().http_session()
        assert isinstance(provided, FakeSession)
        assert provided is FACTORY_MADE[-1]

    async def test_async_method_views_get_a_new_fake_per_request(self) -> None:
        """Each request's view gets a new fake from the Factory, never the real session."""
        before = len(FACTORY_MADE)
        responses = [await self.async_client.get("/proxy") for _ in range(2)]
        made = FACTORY_MADE[before:]
        assert len(made) == 2
        assert [response.json() for response in responses] == [
            {"upstream": FAKE_PAYLOAD, "session": id(fake)} for fake in made
        ]


@override_providers({Container.http_session: TRANSACTION_FAKE})
class TransactionTestCaseTests(RealProviderAfterClass, TransactionTestCase):
    """A TransactionTestCase decorated with the class-level provider as the key."""

    def test_sync_method_gets_the_fake_from_the_container(self) -> None:
        """A sync test method sees the fake."""
        assert get_container().http_session() is TRANSACTION_FAKE

    async def test_async_method_views_get_the_fake(self) -> None:
        """An async test method: an injected view gets the fake."""
        response = await self.async_client.get("/cbv")
        assert response.json()["session"] == id(TRANSACTION_FAKE)


def test_the_real_provider_is_back_after_the_decorated_classes() -> None:
    """After the decorated classes above have run, no override is left on the container."""
    assert_real_provider_is_back()


class Failed(Exception):
    """What the failing test methods raise."""


def run_case(case: type[unittest.TestCase], method: str) -> unittest.TestResult:
    """Run one method of ``case`` as a test runner would (class set-up and tear-down included)."""
    result = unittest.TestResult()
    unittest.TestSuite([case(method)]).run(result)
    return result


@pytest.mark.parametrize("method", ["test_sync", "test_async"])
def test_a_failing_test_method_still_undoes_the_class_override(method: str) -> None:
    """A test method that fails (sync or async) leaves the real provider behind."""
    fake = FakeSession()
    seen: list[Any] = []

    @override_providers(http_session=fake)
    class Failing(SimpleTestCase):
        def test_sync(self) -> None:
            seen.append(get_container().http_session())
            raise Failed("the sync test failed")

        async def test_async(self) -> None:
            seen.append(get_container().http_session())
            raise Failed("the async test failed")

    result = run_case(Failing, method)

    assert seen == [fake]
    assert result.testsRun == 1
    assert len(result.errors) == 1, result.errors
    assert f"Failed: the {method.removeprefix('test_')} test failed" in result.errors[0][1]
    assert_real_provider_is_back()
