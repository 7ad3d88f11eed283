"""One session for all users must not carry one user's cookies or headers to another."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Callable

import aiohttp
import pytest

from tests.integration.load import run_load
from tests.integration.servers import serve, server_named
from tests.integration.upstream import Upstream

USERS = ("alice", "bob", "")
"""Two users and an anonymous caller (no X-User header)."""
ROUNDS = 100


def whoami_paths(rounds: int) -> list[str]:
    """The users' calls, interleaved: alice, bob, anonymous, alice, ..."""
    return [f"/integration/whoami?user={user}" for _ in range(rounds) for user in USERS]


async def a_default_cookie_jar_replays(url: str) -> str:
    """What a plain ``ClientSession`` (aiohttp's default cookie jar) sends after alice's call."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/w/0/whoami", headers={"X-User": "alice"}):
            pass
        async with session.get(f"{url}/w/0/whoami") as response:
            body = await response.json()
            return str(body["cookie"])


@pytest.mark.parametrize("server_name", ["uvicorn", "gunicorn-uvicorn-worker"])
def test_users_never_receive_each_others_cookies_or_headers(
    upstream: Upstream, record: Callable[..., None], server_name: str
) -> None:
    """Through the shared session, no user gets another's cookie or X-User header."""
    # The upstream is reached as `localhost` (a cookie jar keeps host cookies, not IP ones)
    # and sets a session cookie for each user.
    # The control: against this upstream, a session with a cookie jar does leak alice's cookie.
    assert asyncio.run(a_default_cookie_jar_replays(upstream.localhost_url)) == (
        "sid=secret-of-alice"
    )
    upstream.reset()
    server = server_named(server_name)
    with serve(server, upstream.localhost_url) as process:
        process.wait_ready()
        load = run_load(process.url, whoami_paths(ROUNDS), concurrency=16, keep_bodies=True)
        process.stop(signal.SIGTERM)
        process.wait()

    calls = [call for call in upstream.calls() if call.endpoint == "whoami"]
    record(
        server=server.name,
        check="cookies and headers between users",
        requests=load.requests,
        errors=len(load.errors),
        cookies_set_by_upstream=upstream.cookies_set,
        calls_with_a_cookie=sum(bool(call.cookie) for call in calls),
        calls_by_user=dict(Counter(call.user or "anonymous" for call in calls)),
    )
    assert load.errors == [], load.errors[:5]
    assert upstream.cookies_set == 2 * ROUNDS  # alice's and bob's calls each got a cookie
    assert [call.cookie for call in calls if call.cookie] == []
    assert Counter(call.user for call in calls) == dict.fromkeys(USERS, ROUNDS)
    for body in load.bodies:
        assert body["upstream_saw"]["cookie"] == ""
    # Each answer is the upstream's view of that very call: no header crossed over.
    answered = Counter(body["upstream_saw"]["user"] for body in load.bodies)
    assert answered == dict.fromkeys(USERS, ROUNDS)
    assert process.problems() == [], process.output
