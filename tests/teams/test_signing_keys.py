"""`KeySource`: the signing keys fetched asynchronously, shared, cached, refreshed for an unknown key at
most every few minutes, and a failure remembered for a while (tests/support/keyserver.py serves them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.core.net import bound_port
from bot.teams.signing_keys import KeySource, KeysUnavailable
from tests.support.keyserver import KeyServer, key_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def keys() -> AsyncIterator[KeyServer]:
    async with key_server() as server:
        yield server


def source(http: httpx.AsyncClient, url: str, clock: Clock, **kwargs: float) -> KeySource:
    return KeySource(http, url, monotonic=clock, **kwargs)


async def test_keys_are_fetched_once_and_shared(http: httpx.AsyncClient, keys: KeyServer) -> None:
    clock = Clock()
    found = source(http, keys.metadata_url, clock)
    results = await asyncio.gather(*(found.key(keys.kid) for _ in range(5)))
    assert all(r is not None and r.endorsements == frozenset(keys.endorsements) for r in results)
    assert await found.key(keys.kid) is not None
    assert keys.requests == 1 and found.fetches == 1


async def test_an_unknown_kid_refetches_at_most_every_interval(
    http: httpx.AsyncClient, keys: KeyServer
) -> None:
    clock = Clock()
    found = source(http, keys.metadata_url, clock, unknown_kid_interval=300)
    assert await found.key("rolled-over") is None  # the first fetch, which does not have it
    clock.now += 10
    assert await found.key("rolled-over") is None
    assert keys.requests == 1
    clock.now += 300
    keys.kid = "rolled-over"  # the issuer published the new key since
    assert await found.key("rolled-over") is not None
    assert keys.requests == 2


async def test_keys_are_refetched_after_max_age(http: httpx.AsyncClient, keys: KeyServer) -> None:
    clock = Clock()
    found = source(http, keys.metadata_url, clock, max_age=3600)
    await found.key(keys.kid)
    clock.now += 3599
    await found.key(keys.kid)
    assert keys.requests == 1
    clock.now += 2
    await found.key(keys.kid)
    assert keys.requests == 2


async def test_a_failure_is_remembered_then_tried_again(
    http: httpx.AsyncClient, keys: KeyServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    keys.fail = True
    found = source(http, keys.metadata_url, clock, failure_memory=30)
    with pytest.raises(KeysUnavailable):
        await found.key(keys.kid)
    clock.now += 29
    with pytest.raises(KeysUnavailable):
        await found.key(keys.kid)
    assert keys.requests == 1, "within the failure memory nobody asks again"
    keys.fail = False
    clock.now += 2
    assert await found.key(keys.kid) is not None
    assert keys.requests == 2
    warnings = [r for r in caplog.records if "could not fetch signing keys" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None


async def test_stale_keys_are_kept_when_a_refresh_fails(http: httpx.AsyncClient, keys: KeyServer) -> None:
    clock = Clock()
    found = source(http, keys.metadata_url, clock, max_age=3600)
    await found.key(keys.kid)
    keys.fail = True
    clock.now += 7200
    assert await found.key(keys.kid) is not None  # stale, but better than refusing everyone
    assert keys.requests == 2


async def test_a_slow_key_server_costs_at_most_the_timeout(http: httpx.AsyncClient) -> None:
    async with key_server(KeyServer(stall=5.0)) as slow:
        found = KeySource(http, slow.metadata_url, timeout=0.3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(KeysUnavailable):
            await asyncio.gather(*(found.key(slow.kid) for _ in range(3)))
        assert asyncio.get_running_loop().time() - started < 1.5
        assert slow.requests == 1


@pytest.mark.parametrize(
    ("metadata", "key_set"),
    [
        (web.Response(text="<html>not json</html>"), None),
        (web.json_response(["a", "list"]), None),
        (web.json_response({"issuer": "x"}), None),  # no jwks_uri
        (web.json_response({"jwks_uri": "ftp://elsewhere"}), None),
        (None, web.json_response({"keys": "none"})),
        (
            None,
            web.json_response({"keys": [{"kty": "EC", "kid": "k"}, {"kty": "RSA", "kid": "k", "n": "!"}]}),
        ),
        (None, web.Response(body=b"[" * 200_000 + b"]" * 200_000, content_type="application/json")),
        (None, web.Response(body=b" " * (2 * 1024 * 1024), content_type="application/json")),
        (web.Response(status=404), None),
    ],
)
async def test_a_broken_key_server_is_one_warning(
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    metadata: web.Response | None,
    key_set: web.Response | None,
) -> None:
    url = ""

    async def meta(request: web.Request) -> web.Response:
        return metadata or web.json_response({"jwks_uri": f"{url}/keys"})

    async def key_list(request: web.Request) -> web.Response:
        assert key_set is not None
        return key_set

    app = web.Application()
    app.router.add_get("/meta", meta)
    app.router.add_get("/keys", key_list)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{bound_port(runner.addresses)}"
    try:
        with pytest.raises(KeysUnavailable):
            await KeySource(http, f"{url}/meta").key("k")
    finally:
        await runner.cleanup()
    warnings = [r for r in caplog.records if "could not fetch signing keys" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "Traceback" not in caplog.text
