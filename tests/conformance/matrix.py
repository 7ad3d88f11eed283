"""The injection styles of the conformance matrix, and what every cell must show.

A cell is one style served in one mode. It must show that

* the view got the right object: a real, open ``aiohttp.ClientSession`` (one the container
  opened, or the test's own under an override) that answered a GET, or the real value; never
  a coroutine, a marker, a Future or a closed session;
* every instance the resource opened was closed by the end;
* no event loop had two instances of a resource, and a view got the instance of its own loop;
* under lifespan, one instance served every request.

The in-process cells (``tests/test_conformance.py``) and the real-server cells
(``tests/integration/test_conformance.py``) both check with the functions here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "STYLES",
    "Answer",
    "Style",
    "check_answer",
    "check_instances",
    "style_named",
]

Answer = Mapping[str, Any]
"""A view's JSON answer (see ``tests.conformance.views.answer``)."""

SESSION_TYPE = "aiohttp.client.ClientSession"
GREETING = {"text": "hello"}


@dataclass(frozen=True)
class Style:
    """One way of getting a dependency into a view."""

    name: str
    kind: str
    """What the view gets: "session", "client" (an ApiClient around the session),
    "closed-flag" (``session.closed``), "httpx" (the shared ``httpx.AsyncClient``) or "value"
    (a plain value of a sync provider)."""
    provider: str
    """The provider the view names (what an override replaces)."""
    resource: str | None
    """The session resource behind what the view gets, if any."""
    is_async: bool = True

    @property
    def path(self) -> str:
        return f"/style/{self.name}"

    def __str__(self) -> str:
        return self.name


STYLES = (
    Style("inject-function", "session", "http_session", "http_session"),
    Style("inject-method", "session", "http_session", "http_session"),
    Style("inject-sync", "value", "greeting", None, is_async=False),
    Style("di-wiring", "session", "http_session", "http_session"),
    Style("di-string", "session", "http_session", "http_session"),
    Style("annotated-inject", "session", "http_session", "http_session"),
    Style("annotated-di", "session", "http_session", "http_session"),
    Style("factory-inject", "client", "http_session", "http_session"),
    Style("factory-di", "client", "http_session", "http_session"),
    Style("provided-inject", "closed-flag", "http_session", "http_session"),
    Style("provided-di", "closed-flag", "http_session", "http_session"),
    Style("no-finally-inject", "session", "bare_session", "bare_session"),
    Style("httpx-inject", "httpx", "httpx_client", "httpx_client"),
)
"""Every style; ``inject`` is django_lifespan_di.inject, ``di`` dependency-injector's own."""

ASYNC_STYLES = tuple(style for style in STYLES if style.is_async)


def style_named(name: str) -> Style:
    for style in STYLES:
        if style.name == name:
            return style
    raise LookupError(name)


def _session_of(style: Style, got: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The description of the session inside what the view got, or None if it has none."""
    if style.kind in ("session", "httpx"):
        return got
    if style.kind == "client":
        return got.get("session")
    return None


def check_answer(
    style: Style, answer: Answer, *, override: Any = None, expected_value: Any = None
) -> None:
    """The view got the right object: see the module's docstring.

    ``override``: the object the test overrode the style's provider with (the session, or the
    value), which the view must then get instead of the container's own.
    """
    assert "error" not in answer, f"{style}: the view raised {answer['error']}"
    got = answer["got"]
    assert not got["awaitable"], f"{style}: the view got an awaitable: {got['type']}"
    if style.kind == "value":
        expected = expected_value if expected_value is not None else GREETING
        assert got["type"] == f"builtins.{type(expected).__name__}", f"{style}: got {got}"
        assert got.get("value") == expected, f"{style}: got {got}, expected {expected!r}"
        return
    if style.kind == "closed-flag":
        assert got["type"] == "builtins.bool", f"{style}: expected session.closed, got {got}"
        assert got.get("value") is False, f"{style}: the session was closed: {got}"
        return
    if style.kind == "client":
        assert got["type"] == "tests.conformance.containers.ApiClient", f"{style}: got {got}"
    session = _session_of(style, got)
    assert session is not None, f"{style}: no session in {got}"
    if style.kind == "httpx":
        assert session.get("is_httpx_client"), f"{style}: expected an httpx.AsyncClient: {session}"
    else:
        assert session["type"] == SESSION_TYPE, (
            f"{style}: expected an aiohttp.ClientSession, got {session['type']} ({session})"
        )
    assert session["closed"] is False, f"{style}: the session it got is closed: {session}"
    if override is not None:
        assert session["id"] == id(override), (
            f"{style}: expected the overriding session {id(override)}, got {session}"
        )
    else:
        assert session["instance"] is not None, (
            f"{style}: the session is not one the container's {style.resource} opened: {session}"
        )
    upstream = answer["upstream"]
    assert upstream is not None, f"{style}: no GET was made through the session"
    assert upstream["status"] == 200, f"{style}: the GET through the session failed: {upstream}"


def check_instances(
    events: Sequence[Mapping[str, Any]],
    resources: Iterable[str],
    *,
    answers: Sequence[tuple[Style, Answer]] = (),
    lifespan: bool,
) -> None:
    """Every instance of ``resources`` was closed, one per loop; each answer got its loop's.

    ``events``: what the resources recorded (``tests.conformance.containers``) by the end;
    ``lifespan``: whether a lifespan startup opened them, so that one instance served all.
    """
    for resource in resources:
        own = [event for event in events if event["resource"] == resource]
        opened_by_instance = {e["instance"]: e for e in own if e["event"] == "opened"}
        closed = {e["instance"] for e in own if e["event"] == "closed"}
        unclosed = [
            f"{token} (loop {event['loop']})"
            for token, event in opened_by_instance.items()
            if token not in closed
        ]
        assert not unclosed, (
            f"{resource}: {len(unclosed)} of {len(opened_by_instance)} instances never "
            f"closed: {', '.join(unclosed)}"
        )
        by_loop: dict[str, list[str]] = defaultdict(list)
        for token, event in opened_by_instance.items():
            by_loop[event["loop"]].append(token)
        shared = {loop: tokens for loop, tokens in by_loop.items() if len(tokens) > 1}
        assert not shared, f"{resource}: more than one instance on a loop: {shared}"
        if lifespan:
            assert len(opened_by_instance) == 1, (
                f"{resource}: under lifespan one instance serves all, but "
                f"{len(opened_by_instance)} were opened: {sorted(opened_by_instance)}"
            )
        for style, answer in answers:
            if style.resource != resource or "error" in answer:
                continue
            session = _session_of(style, answer["got"])
            token = session.get("instance") if session else None
            if token is None:
                continue  # check_answer says what it got instead
            opening = opened_by_instance.get(token)
            assert opening is not None, f"{style}: got {token}, which {resource} never opened"
            if lifespan:
                continue  # the one instance, whatever loop a request runs on
            assert opening["loop"] == answer["loop"], (
                f"{style}: got {token} of loop {opening['loop']} while running on loop "
                f"{answer['loop']}"
            )
