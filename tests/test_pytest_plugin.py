"""The pytest plugin's fixtures, used by a test file in a separate pytest run (``pytester``).

The inner run finds the plugin the way a user's run does, through the ``pytest11`` entry point
of the installed package, and runs with warnings as errors.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
"""The repository root: the inner run imports the test project (``tests.project``) from it."""

TIMEOUT = 120.0
"""A generous bound on one inner pytest run."""

RunInner = Callable[..., pytest.RunResult]

# Printed by asyncio or aiohttp when a loop or a session is mishandled; none may appear.
TROUBLE = (
    "Event loop is closed",
    "Unclosed client session",
    "Unclosed connector",
    "Task was destroyed but it is pending",
    "coroutine was never awaited",
    "Traceback",
)


@pytest.fixture(name="run_inner")
def fixture_run_inner(pytester: pytest.Pytester) -> RunInner:
    """Write ``source`` as the inner test file and run pytest on it in a subprocess."""
    pytester.makeini(
        f"""
        [pytest]
        DJANGO_SETTINGS_MODULE = tests.project.settings
        django_find_project = false
        pythonpath = {ROOT}
        asyncio_mode = strict
        asyncio_default_fixture_loop_scope = function
        asyncio_default_test_loop_scope = function
        filterwarnings = error
        addopts = --strict-markers -p no:cacheprovider
        """
    )

    def run(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_inner=textwrap.dedent(source))
        # In file order (no pytest-randomly): a later inner test checks what an earlier recorded.
        return pytester.runpytest_subprocess(
            "-W", "error", "-v", "-p", "no:randomly", *args, timeout=TIMEOUT
        )

    return run


def assert_clean(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    for trouble in TROUBLE:
        assert trouble not in output, f"{trouble!r} in the inner run's output:\n{output}"


def test_plugin_is_registered_through_the_entry_point(run_inner: RunInner) -> None:
    """The fixtures come from the pytest11 entry point: blocking the plugin removes them."""
    source = """
        def test_uses_the_fixture(lifespan_container):
            pass
    """
    assert run_inner(source).ret == pytest.ExitCode.OK
    blocked = run_inner(source, "-p", "no:django_lifespan_di")
    blocked.assert_outcomes(errors=1)
    blocked.stdout.fnmatch_lines(["*fixture 'lifespan_container' not found*"])


def test_lifespan_container_is_the_process_container_rebuilt_per_test(run_inner: RunInner) -> None:
    """``lifespan_container`` is get_container(), a new instance for each test, wired to views."""
    result = run_inner(
        """
        from django_lifespan_di import get_container
        from tests.project.containers import Container

        seen = []

        def test_first(lifespan_container):
            assert lifespan_container.declarative_parent is Container
            assert lifespan_container is get_container()
            wired = {module.__name__ for module in lifespan_container.wired_to_modules}
            assert "tests.project.views" in wired
            seen.append(lifespan_container)

        def test_second(lifespan_container):
            assert lifespan_container is get_container()
            assert lifespan_container is not seen[0]
        """
    )
    result.assert_outcomes(passed=2, warnings=0)
    assert_clean(result)


def test_lifespan_container_is_clean_whatever_earlier_tests_did(run_inner: RunInner) -> None:
    """An override an earlier test left on the container does not reach ``lifespan_container``."""
    result = run_inner(
        """
        from dependency_injector import providers
        from django_lifespan_di import get_container

        def test_leaves_an_override_behind():
            get_container().http_session.override(providers.Object("leaked"))

        def test_starts_clean(lifespan_container):
            assert not lifespan_container.http_session.overridden
        """
    )
    result.assert_outcomes(passed=2, warnings=0)
    assert_clean(result)


def test_override_provider_is_undone_at_teardown(run_inner: RunInner) -> None:
    """``override_provider`` overrides for one test; the next test sees the real provider."""
    result = run_inner(
        """
        import pytest
        from django.test import AsyncClient
        from django_lifespan_di import get_container
        from tests.project.containers import Container

        class FakeResponse:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc_info):
                return None

            async def json(self):
                return {"from": "the fake"}

        class FakeSession:
            def get(self, path, **kwargs):
                return FakeResponse()

        FAKE = FakeSession()
        overridden = []

        @pytest.mark.asyncio
        async def test_overrides_by_name(override_provider):
            container = override_provider("http_session", FAKE)
            assert container is get_container()
            assert container.http_session() is FAKE
            response = await AsyncClient().get("/proxy")
            assert response.json() == {"upstream": {"from": "the fake"}, "session": id(FAKE)}
            overridden.append(container)

        def test_overrides_by_class_provider_several_times(override_provider):
            container = override_provider(Container.http_session, "first")
            override_provider(Container.http_session, FAKE)
            assert container.http_session() is FAKE
            overridden.append(container)

        def test_then_the_real_provider_is_back():
            assert len(overridden) == 2
            for container in overridden:
                assert not container.http_session.overridden
            assert not get_container().http_session.overridden
        """
    )
    result.assert_outcomes(passed=3, warnings=0)
    assert_clean(result)


def test_lifespan_client_runs_a_lifespan_per_test_on_its_own_loop(run_inner: RunInner) -> None:
    """Two tests in a row get a client with startup and shutdown on each test's own loop."""
    result = run_inner(
        """
        import asyncio

        import pytest
        from aiohttp import ClientSession
        from django.test import AsyncClient
        from django_lifespan_di import get_container

        sessions = []
        loops = []

        async def check(client):
            assert isinstance(client, AsyncClient)
            session = get_container().http_session()
            assert isinstance(session, ClientSession)
            response = await client.get("/by-name")
            assert response.json() == {"session": id(session), "closed": False}
            sessions.append(session)
            loops.append(asyncio.get_running_loop())

        @pytest.mark.asyncio
        async def test_first(lifespan_client):
            await check(lifespan_client)

        @pytest.mark.asyncio
        async def test_second(lifespan_client):
            await check(lifespan_client)

        def test_each_session_was_closed_with_its_test():
            assert len(sessions) == 2
            assert sessions[0] is not sessions[1]
            assert loops[0] is not loops[1]
            assert all(session.closed for session in sessions)
        """
    )
    result.assert_outcomes(passed=3, warnings=0)
    assert_clean(result)


def test_override_provider_with_lifespan_client_reaches_the_views(run_inner: RunInner) -> None:
    """An override made before the lifespan_client's startup reaches the views it serves."""
    result = run_inner(
        """
        import pytest

        class FakeSession:
            closed = False

        FAKE = FakeSession()

        @pytest.fixture
        def fake_session(override_provider):
            override_provider("http_session", FAKE)
            return FAKE

        @pytest.mark.asyncio
        async def test_view_gets_the_fake(fake_session, lifespan_client):
            response = await lifespan_client.get("/by-name")
            assert response.json() == {"session": id(FAKE), "closed": False}
        """
    )
    result.assert_outcomes(passed=1, warnings=0)
    assert_clean(result)
