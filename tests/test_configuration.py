"""Configuration mistakes: each is reported by ``manage.py check`` and fails the lifespan startup.

Every settings mistake must name the setting, what was found and what is expected, with the
same text whether an operator runs ``manage.py check`` or the server refuses to start.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.signals import setting_changed
from django.test import override_settings

from django_lifespan_di import _container, get_container
from django_lifespan_di.asgi import get_asgi_application
from django_lifespan_di.conf import ConfigurationError
from tests import config_cases
from tests.driver import drive_lifespan, http_scope
from tests.project import views
from tests.project.containers import Container
from tests.reporting import assert_reported, check_command_report, lifespan_report, reported_by

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTING = "DJANGO_LIFESPAN_DI"
VALID = {"CONTAINER": "tests.project.containers.Container"}
KNOWN_KEYS = (
    "CONTAINER, WIRE, STARTUP_TIMEOUT, SHUTDOWN_TIMEOUT, ON_STARTUP, ON_SHUTDOWN, REQUEST_THREADS"
)
MISSING = object()
"""Stands for "the setting is not defined at all"."""


@contextmanager
def lifespan_setting(value: object) -> Iterator[None]:
    """Set ``DJANGO_LIFESPAN_DI`` (or, for :data:`MISSING`, remove it) for the block."""
    if value is not MISSING:
        with override_settings(**{SETTING: value}):
            yield
        return
    # override_settings cannot remove a setting; deleting from an (empty) override can, but
    # sends no setting_changed, so send it the way override_settings would.
    override = override_settings()
    override.enable()
    try:
        delattr(settings, SETTING)
        setting_changed.send(sender=type(settings), setting=SETTING, value=None, enter=True)
        yield
    finally:
        override.disable()
        setting_changed.send(
            sender=type(settings), setting=SETTING, value=getattr(settings, SETTING), enter=False
        )


SETTINGS_MISTAKES = [
    pytest.param(
        MISSING,
        "E001",
        [
            f"The {SETTING} setting is missing",
            '{"CONTAINER": "myproject.containers.Container"}',
        ],
        id="setting-missing",
    ),
    pytest.param(
        "tests.project.containers.Container",
        "E001",
        [
            f"{SETTING} must be a dict",
            "found str 'tests.project.containers.Container'",
            f'Expected, for example: {SETTING} = {{"CONTAINER": ',
        ],
        id="string-not-dict",
    ),
    pytest.param(
        [("CONTAINER", "tests.project.containers.Container")],
        "E001",
        [f"{SETTING} must be a dict", "found list [("],
        id="list-not-dict",
    ),
    pytest.param(
        {"CONTIANER": "tests.project.containers.Container"},
        "E002",
        [f"{SETTING} has unknown key(s) 'CONTIANER'", f"the known keys are {KNOWN_KEYS}"],
        id="misspelt-key",
    ),
    pytest.param(
        {**VALID, "WIRES": ["tests.project.views"]},
        "E002",
        [f"{SETTING} has unknown key(s) 'WIRES'", f"the known keys are {KNOWN_KEYS}"],
        id="misspelt-key-beside-container",
    ),
    pytest.param(
        {"WIRE": ["tests.project.views"]},
        "E001",
        [f"{SETTING}['CONTAINER'] is missing", '{"CONTAINER": "myproject.containers.Container"}'],
        id="container-missing",
    ),
    pytest.param(
        {},
        "E001",
        [f"{SETTING}['CONTAINER'] is missing"],
        id="empty-dict",
    ),
    pytest.param(
        {"CONTAINER": Container},
        "E003",
        [
            f"{SETTING}['CONTAINER'] must be the dotted path of a container class as a string",
            "found DeclarativeContainerMetaClass <class 'tests.project.containers.Container'>",
        ],
        id="container-class-not-path",
    ),
    pytest.param(
        {"CONTAINER": "no_such_package.containers.Container"},
        "E003",
        [
            f"{SETTING}['CONTAINER'] is 'no_such_package.containers.Container', "
            "which cannot be imported",
            "No module named 'no_such_package'",
            "Expected the dotted path of a DeclarativeContainer subclass.",
        ],
        id="container-module-not-importable",
    ),
    pytest.param(
        {"CONTAINER": "tests.project.containers.Containr"},
        "E003",
        [
            f"{SETTING}['CONTAINER'] is 'tests.project.containers.Containr', "
            "which cannot be imported",
            'does not define a "Containr" attribute/class',
            "Expected the dotted path of a DeclarativeContainer subclass.",
        ],
        id="container-attribute-misspelt",
    ),
    pytest.param(
        {"CONTAINER": "django.conf.settings"},
        "E004",
        [
            f"{SETTING}['CONTAINER'] is 'django.conf.settings', which is <LazySettings",
            "not a container class",
            "Expected a subclass of dependency_injector.containers.DeclarativeContainer.",
        ],
        id="container-is-an-object",
    ),
    pytest.param(
        {"CONTAINER": "tests.config_cases.NotAContainer"},
        "E004",
        [
            f"{SETTING}['CONTAINER'] is 'tests.config_cases.NotAContainer', "
            "which is <class 'tests.config_cases.NotAContainer'>, not a container class",
            "Expected a subclass of dependency_injector.containers.DeclarativeContainer.",
        ],
        id="container-is-a-plain-class",
    ),
    pytest.param(
        {**VALID, "WIRE": "tests.project.views"},
        "E005",
        [f"{SETTING}['WIRE'] must be a list of dotted paths, found 'tests.project.views'"],
        id="wire-is-a-string",
    ),
    pytest.param(
        {**VALID, "WIRE": [views]},
        "E005",
        [
            f"{SETTING}['WIRE'] must be a list of dotted paths",
            "found the item <module 'tests.project.views'",
            "of type module",
        ],
        id="wire-item-is-a-module",
    ),
    pytest.param(
        {**VALID, "WIRE": ["tests.no_such_views"]},
        "E006",
        [
            f"{SETTING}['WIRE'] names 'tests.no_such_views', which cannot be imported",
            "No module named 'tests.no_such_views'",
            "Expected the dotted path of a module or package to wire.",
        ],
        id="wire-module-not-importable",
    ),
    pytest.param(
        {"CONTAINER": "tests.config_cases.BrokenWiringContainer"},
        "E006",
        [
            "Wiring the container BrokenWiringContainer failed",
            "tests.no_such_module_to_wire",
            f"{SETTING}['WIRE']",
        ],
        id="container-wiring-config-not-importable",
    ),
    pytest.param(
        {**VALID, "HEALTH_CHECKS": ["tests.health_checks.flaky"]},
        "E014",
        [f"{SETTING}['HEALTH_CHECKS'] is ['tests.health_checks.flaky']; expected a dict"],
        id="health-checks-not-a-dict",
    ),
    pytest.param(
        {**VALID, "HEALTH_CHECKS": {"http_session": 42}},
        "E014",
        [f"{SETTING}['HEALTH_CHECKS'] has the item 'http_session': 42; expected a dict"],
        id="health-check-not-a-path",
    ),
    pytest.param(
        {**VALID, "HEALTH_CHECKS": {"http_session": "tests.health_checks.nope"}},
        "E014",
        [
            f"{SETTING}['HEALTH_CHECKS']['http_session'] names 'tests.health_checks.nope', "
            "which cannot be imported",
            "Expected the dotted path of an async function taking the resource.",
        ],
        id="health-check-not-importable",
    ),
    pytest.param(
        {**VALID, "HEALTH_CHECKS": {"http_session": "tests.health_checks.sync_check"}},
        "E014",
        ["'tests.health_checks.sync_check', which is <function sync_check", "not an async"],
        id="health-check-not-async",
    ),
    pytest.param(
        {**VALID, "HEALTH_CHECKS": {"no_such": "tests.health_checks.flaky"}},
        "E015",
        [
            f"{SETTING}['HEALTH_CHECKS'] names 'no_such', which is no resource of Container",
            "its resources are: http_session.",
        ],
        id="health-check-of-no-resource",
    ),
    pytest.param(
        {**VALID, "HEALTH_TIMEOUT": 0},
        "E008",
        [f"{SETTING}['HEALTH_TIMEOUT'] is 0; expected a positive, finite number of seconds"],
        id="health-timeout-zero",
    ),
]


@reported_by
@pytest.mark.parametrize(("value", "check_id", "fragments"), SETTINGS_MISTAKES)
def test_settings_mistake_is_reported(
    report: Callable[[], str], value: object, check_id: str, fragments: list[str]
) -> None:
    """A wrong settings block names the setting, what was found and what is expected."""
    with lifespan_setting(value):
        text = report()
    assert_reported(text, check_id, fragments)


@reported_by
@pytest.mark.parametrize("key", ["ON_STARTUP", "ON_SHUTDOWN"])
@pytest.mark.parametrize(
    ("hooks", "check_id", "fragments"),
    [
        pytest.param(
            ["tests.config_cases.no_such_hook"],
            "E007",
            [
                "names 'tests.config_cases.no_such_hook', which cannot be imported",
                'does not define a "no_such_hook" attribute/class',
                "Expected the dotted path of a sync or async callable taking no arguments.",
            ],
            id="not-importable",
        ),
        pytest.param(
            ["tests.config_cases.NOT_CALLABLE"],
            "E007",
            [
                "names 'tests.config_cases.NOT_CALLABLE', which is 42, not callable",
                "Expected a sync or async callable taking no arguments.",
            ],
            id="not-callable",
        ),
        pytest.param(
            "tests.config_cases.NotAContainer",
            "E005",
            ["must be a list of dotted paths, found 'tests.config_cases.NotAContainer'"],
            id="string-not-list",
        ),
    ],
)
def test_hook_mistake_is_reported(
    report: Callable[[], str], key: str, hooks: object, check_id: str, fragments: list[str]
) -> None:
    """A startup or shutdown hook that cannot be imported or called is a settings mistake."""
    with lifespan_setting({**VALID, key: hooks}):
        text = report()
    assert_reported(text, check_id, [f"{SETTING}[{key!r}]", *fragments])


@reported_by
@pytest.mark.parametrize("key", ["STARTUP_TIMEOUT", "SHUTDOWN_TIMEOUT"])
@pytest.mark.parametrize("timeout", [0, -1, "5", math.nan, math.inf, True, None])
def test_timeout_mistake_is_reported(report: Callable[[], str], key: str, timeout: object) -> None:
    """A timeout must be a positive, finite number of seconds (not a bool or a string)."""
    with lifespan_setting({**VALID, key: timeout}):
        text = report()
    assert_reported(
        text,
        "E008",
        [
            f"{SETTING}[{key!r}] is {timeout!r}; "
            "expected a positive, finite number of seconds (default 30.0)."
        ],
    )


@reported_by
@pytest.mark.parametrize(
    ("urlconf", "wire", "check_id", "fragments"),
    [
        pytest.param(
            config_cases.UnwiredUrls,
            [],
            "E009",
            [
                "View tests.config_cases.unwired_view asks for session but its module "
                "'tests.config_cases' is not wired to the container",
                "HINT: Add 'tests.config_cases' to the container's wiring_config or to "
                f"{SETTING}['WIRE'], or decorate the view with django_lifespan_di.inject, "
                "which needs no wiring.",
            ],
            id="view-module-not-wired",
        ),
        pytest.param(
            config_cases.IncludedUnwiredUrls,
            [],
            "E009",
            [
                "View tests.config_cases.unwired_view asks for session but its module "
                "'tests.config_cases' is not wired to the container",
            ],
            id="included-view-module-not-wired",
        ),
        pytest.param(
            config_cases.UnwiredClassViewUrls,
            [],
            "E009",
            [
                "View tests.config_cases.UnwiredClassView.get asks for session but its module "
                "'tests.config_cases' is not wired to the container",
            ],
            id="class-based-view-module-not-wired",
        ),
        pytest.param(
            config_cases.NotInjectedUrls,
            ["tests.config_cases"],
            "E009",
            [
                "View tests.config_cases.not_injected_view asks for session but is not "
                "decorated with @inject",
                "HINT: Decorate it with dependency_injector.wiring.inject.",
            ],
            id="view-not-injected",
        ),
        pytest.param(
            config_cases.MisnamedUrls,
            ["tests.config_cases"],
            "E010",
            [
                "View tests.config_cases.misnamed_view asks for "
                "session=Provide['no_such_provider'], which names no provider of the container",
                f"the container named in {SETTING}['CONTAINER']",
            ],
            id="marker-names-no-provider",
        ),
        pytest.param(
            config_cases.OtherContainerUrls,
            [],
            "E010",
            [
                "View tests.config_cases.other_containers_view asks for "
                "thing=Provide[OtherContainer.thing], a provider of OtherContainer, not of the "
                "container Container.",
            ],
            id="marker-of-another-container",
        ),
        pytest.param(
            config_cases.SyncViewUrls,
            ["tests.config_cases"],
            "E013",
            [
                "View tests.config_cases.sync_asking_for_the_session asks for "
                "session=Provide[Container.http_session], which is provided asynchronously, "
                "but the view is not `async def`",
                "HINT: Declare the view `async def`, or inject a sync provider.",
            ],
            id="sync-view-wired",
        ),
        pytest.param(
            config_cases.SyncAnnotatedUrls,
            [],
            "E013",
            ["View tests.config_cases.sync_annotated asks for session=Provide["],
            id="sync-view-annotated",
        ),
        pytest.param(
            config_cases.SyncClassViewUrls,
            [],
            "E013",
            ["View tests.config_cases.SyncClassView.get asks for session=Provide["],
            id="sync-class-based-view",
        ),
    ],
)
def test_view_mistake_is_reported(
    report: Callable[[], str],
    urlconf: object,
    wire: list[str],
    check_id: str,
    fragments: list[str],
) -> None:
    """A view whose dependency could not be injected is reported before any request."""
    with override_settings(ROOT_URLCONF=urlconf), lifespan_setting({**VALID, "WIRE": wire}):
        text = report()
    assert_reported(text, check_id, fragments)


@pytest.mark.parametrize(
    ("urlconf", "djangos_own"),
    [(config_cases.NotAPatternUrls, ["urls.E004"]), (config_cases.BuiltinViewUrls, [])],
    ids=["entry-not-a-pattern", "view-signature-unreadable"],
)
def test_view_check_passes_over_what_it_cannot_inspect(
    urlconf: object, djangos_own: list[str]
) -> None:
    """A URLconf entry that is not a pattern (left to Django's own check) and a view whose
    signature cannot be read are passed over by our checks: no error of ours, no crash."""
    with override_settings(ROOT_URLCONF=urlconf):
        everything = checks.run_checks()
    assert [message.id for message in everything] == djangos_own


@reported_by
def test_unknown_provider_error_names_the_configured_container(report: Callable[[], str]) -> None:
    """E010 names the container class from the settings, not dependency-injector's internals."""
    with (
        override_settings(ROOT_URLCONF=config_cases.MisnamedUrls),
        lifespan_setting({**VALID, "WIRE": ["tests.config_cases"]}),
    ):
        text = report()
    assert "(django_lifespan_di.E010) " in text, text
    assert "DynamicContainer" not in text, text
    assert "of the container Container." in text, text


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        pytest.param({"CONTIANER": "x"}, "E002", id="misspelt-key"),
        pytest.param({"CONTAINER": "django.conf.settings"}, "E004", id="not-a-container"),
        pytest.param({**VALID, "STARTUP_TIMEOUT": "5"}, "E008", id="timeout-string"),
    ],
)
def test_lifespan_failure_carries_the_check_message_verbatim(value: object, check_id: str) -> None:
    """The server's startup failure quotes exactly the lines ``manage.py check`` prints."""
    with lifespan_setting(value):
        checked = check_command_report()
        started = lifespan_report()
    lines = [line for line in checked.splitlines() if "(django_lifespan_di." in line]
    assert any(f"(django_lifespan_di.{check_id})" in line for line in lines), lines
    assert all(line in started for line in lines), (lines, started)


@reported_by
def test_every_settings_mistake_is_reported_in_one_run(report: Callable[[], str]) -> None:
    """Several mistakes at once are all reported, each with its id: no fixing them one
    ``check`` run at a time."""
    value = {
        **VALID,
        "WIRES": [],
        "WIRE": ["tests.no_such_module"],
        "STARTUP_TIMEOUT": -1,
        "ON_SHUTDOWN": ["tests.no_such_module.hook"],
        "REQUEST_THREADS": {"MAX_IDLE": 0},
    }
    with lifespan_setting(value):
        text = report()
    for check_id in ("E002", "E006", "E008", "E007", "E011"):
        assert f"(django_lifespan_di.{check_id}) " in text, text


def test_project_settings_pass_the_checks() -> None:
    """The test project's own settings give no error and no warning of ours."""
    stdout, stderr = StringIO(), StringIO()
    call_command("check", stdout=stdout, stderr=stderr)
    assert "django_lifespan_di" not in stdout.getvalue() + stderr.getvalue()
    assert "System check identified no issues" in stdout.getvalue()


def test_container_is_rebuilt_when_the_override_ends() -> None:
    """After the override ends, the container is rebuilt and the checks pass again."""
    with lifespan_setting({"CONTIANER": "x"}):
        check_command_report()
    with lifespan_setting(MISSING):
        check_command_report()
    call_command("check", stdout=StringIO(), stderr=StringIO())


def test_container_asked_for_before_the_app_built_it_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asking for the container when the app never built it (not in INSTALLED_APPS, or Django
    not set up) raises ImproperlyConfigured saying what to do."""
    monkeypatch.setattr(_container._registry, "container", None)
    monkeypatch.setattr(_container._registry, "error", None)

    with pytest.raises(ImproperlyConfigured) as raised:
        get_container()

    assert not isinstance(raised.value, ConfigurationError)
    message = str(raised.value)
    assert "add 'django_lifespan_di' to INSTALLED_APPS" in message
    assert "call django.setup()" in message


@pytest.fixture(name="stock_async_resource")
def fixture_stock_async_resource() -> Iterator[None]:
    """A container with an async resource declared as a stock ``providers.Resource``."""
    with (
        override_settings(ROOT_URLCONF=config_cases.EmptyUrls),
        lifespan_setting({"CONTAINER": "tests.config_cases.StockAsyncResourceContainer"}),
    ):
        yield


@pytest.mark.usefixtures("stock_async_resource")
def test_async_stock_resource_is_a_warning() -> None:
    """``manage.py check`` warns about an async ``providers.Resource`` but does not fail."""
    stdout, stderr = StringIO(), StringIO()
    call_command("check", stdout=stdout, stderr=stderr)
    output = stdout.getvalue() + stderr.getvalue()
    assert "(django_lifespan_di.W001) Resource 'http_session' of " in output
    assert "is async but declared with providers.Resource" in output
    assert "HINT: Declare it with django_lifespan_di.LifespanResource." in output


@pytest.mark.usefixtures("stock_async_resource")
def test_async_stock_resource_warning_names_the_container_class() -> None:
    """W001 names the container class from the settings, not dependency-injector's internals."""
    stdout, stderr = StringIO(), StringIO()
    call_command("check", stdout=stdout, stderr=stderr)
    output = stdout.getvalue() + stderr.getvalue()
    assert "DynamicContainer" not in output, output
    assert "of StockAsyncResourceContainer" in output, output


@pytest.mark.asyncio
@pytest.mark.usefixtures("stock_async_resource")
async def test_async_stock_resource_warning_does_not_fail_startup() -> None:
    """A warning is not an error: the lifespan starts and stops the stock resource."""
    async with drive_lifespan(timeout=10) as run:
        assert run.types == ["lifespan.startup.complete"]
        assert run.state["django_lifespan_di"] == {"http_session": "legacy"}
    assert run.types[-1] == "lifespan.shutdown.complete"


def test_manage_py_check_fails_in_a_real_process() -> None:
    """``python -m django check`` exits non-zero and prints the id and the setting's mistake."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "DJANGO_SETTINGS_MODULE": "tests.server_project.settings",
        "LIFESPAN_DI_CASE": "misspelt-key",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "(django_lifespan_di.E002)" in result.stderr
    assert f"{SETTING} has unknown key(s) 'CONTIANER'" in result.stderr
    assert f"the known keys are {KNOWN_KEYS}" in result.stderr


# Without lifespan (daphne, uvicorn --lifespan off) the checks guard the first request --------


async def serve_one(app: Any, scope_type: str = "http") -> tuple[list[dict[str, Any]], Any]:
    """One request (or websocket connect) sent straight to ``app``, as a server would."""
    sent: list[dict[str, Any]] = []
    scope = http_scope("/proxy", scope_type=scope_type)

    messages = [
        {"type": "websocket.connect"}
        if scope_type == "websocket"
        else {"type": "http.request", "body": b"", "more_body": False}
    ]
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await answered.wait()  # the client stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    return sent, await app(scope, receive, send)


@pytest.mark.asyncio
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
async def test_without_lifespan_a_broken_project_refuses_requests_instead_of_serving_markers(
    caplog: pytest.LogCaptureFixture, debug: bool
) -> None:
    """A view of a module never wired, served with no lifespan: the first request runs the
    checks the startup would have run, and every request gets a 500 (the details only under
    DEBUG), never a 200 with the marker object as the session."""
    with override_settings(ROOT_URLCONF=config_cases.UnwiredUrls, DEBUG=debug):
        app = get_asgi_application()
        first, _ = await serve_one(app)
        second, _ = await serve_one(app)
        refused_socket, _ = await serve_one(app, "websocket")

    for sent in (first, second):
        assert sent[0]["status"] == 500
        body = sent[1]["body"].decode()
        assert "configuration checks failed" in body
        assert ("django_lifespan_di.E009" in body) is debug
    assert refused_socket == [{"type": "websocket.close", "code": 1011}]
    errors = [r.getMessage() for r in caplog.records if r.name == "django_lifespan_di"]
    assert len([e for e in errors if "refusing to serve" in e]) == 1
    assert "E009" in errors[0]


@pytest.mark.asyncio
async def test_without_lifespan_a_sound_project_serves_after_its_first_check(
    upstream: Any,
) -> None:
    """The checks pass once; the requests are Django's as usual."""
    app = get_asgi_application()
    first, _ = await serve_one(app)
    second, _ = await serve_one(app)

    assert first[0]["status"] == second[0]["status"] == 200
