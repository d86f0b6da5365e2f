"""Inbound authentication through the real endpoint: the bot runs with an app id, its OpenID metadata
URL pointing at a local key server (tests/support/keyserver.py), and every kind of bad token is a 401
with one log line and no traceback, while a good one reaches the pipeline. A key server that stalls
costs only the requests that need it: /healthz keeps answering, and the failure is remembered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from bot.server import RunningBot, start_bot
from tests.support.builders import activity, make_settings, unsigned_replies
from tests.support.connector import Connector
from tests.support.e2e import sim_stats, texts
from tests.support.keyserver import KeyServer, key_server, new_key

APP_ID = "3f0e9c7a-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
TENANT = "72f4c1d0-5e6a-4b7c-9d8e-0f1a2b3c4d5e"
EMULATOR_ISSUER = "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0"


@pytest.fixture
async def keys() -> AsyncIterator[KeyServer]:
    async with key_server() as server:
        yield server


async def _bot(tmp_path: Path, keys: KeyServer) -> RunningBot:
    # Teams with a simulated Graph: inbound tokens are checked, Graph is the embedded simulated tenant.
    settings = make_settings(
        tmp_path / "data",
        bot={
            "app_id": APP_ID,
            "app_password": "test-secret-not-used",
            "app_tenant_id": TENANT,
            "openid_metadata_url": keys.metadata_url,
            "emulator_openid_metadata_url": keys.metadata_url,
        },
        graph={"target": "simulator"},
    )
    running = await start_bot(settings, "127.0.0.1", 0)
    unsigned_replies(running)
    return running


@pytest.fixture
async def authed_bot(tmp_path: Path, keys: KeyServer) -> AsyncIterator[RunningBot]:
    running = await _bot(tmp_path, keys)
    yield running
    await running.stop()


def _claims(keys: KeyServer, service_url: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://api.botframework.com", "aud": APP_ID, "serviceurl": service_url, "exp": now + 600}


def _bad_tokens(keys: KeyServer, service_url: str) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Name → (Authorization header, changes to the activity)."""
    other = new_key()
    claims = _claims(keys, service_url)
    none = jwt.encode(claims, "", algorithm="none", headers={"kid": keys.kid})
    hs256 = jwt.encode(
        claims, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256", headers={"kid": keys.kid}
    )
    return {
        "no header": (None, {}),
        "not bearer": ("Basic dXNlcjpwYXNz", {}),
        "bearer alone": ("Bearer", {}),
        "malformed": ("Bearer not.a.token", {}),
        "garbage": ("Bearer " + "A" * 3000, {}),
        "alg none": (f"Bearer {none}", {}),
        "HS256": (f"Bearer {hs256}", {}),
        "wrong key": (f"Bearer {keys.token(app_id=APP_ID, service_url=service_url, key=other)}", {}),
        "unknown kid": (
            f"Bearer {keys.token(app_id=APP_ID, service_url=service_url, key=other, kid='rolled')}",
            {},
        ),
        "expired": (f"Bearer {keys.token(app_id=APP_ID, service_url=service_url, lifetime=-600)}", {}),
        "wrong audience": (f"Bearer {keys.token(app_id='another-bot', service_url=service_url)}", {}),
        "wrong issuer": (
            f"Bearer {keys.token(app_id=APP_ID, service_url=service_url, issuer='https://evil.example')}",
            {},
        ),
        "serviceurl mismatch": (
            f"Bearer {keys.token(app_id=APP_ID, service_url='https://smba.trafficmanager.net/emea/')}",
            {},
        ),
        "null serviceurl claim": (
            f"Bearer {keys.token(app_id=APP_ID, service_url=service_url, serviceurl=None)}",
            {},
        ),
        "channel not endorsed": (
            f"Bearer {keys.token(app_id=APP_ID, service_url=service_url)}",
            {"channelId": "slack"},
        ),
        "emulator token for another app": (
            "Bearer "
            + keys.token(
                app_id="someone-else",
                service_url=service_url,
                issuer=EMULATOR_ISSUER,
                ver="2.0",
                azp="someone-else",
            ),
            {},
        ),
        "a skill's token": (
            "Bearer "
            + keys.token(
                app_id="other-bot",
                service_url=service_url,
                issuer=EMULATOR_ISSUER,
                ver="1.0",
                appid="caller-bot",
            ),
            {},
        ),
    }


async def test_every_bad_token_is_a_401_with_one_log_line(
    http: httpx.AsyncClient,
    authed_bot: RunningBot,
    keys: KeyServer,
    connector: Connector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cases = _bad_tokens(keys, connector.url)
    for name, (header, changes) in cases.items():
        body = activity("/busy 30m", service_url=connector.url, **changes)
        headers = {"Authorization": header} if header is not None else {}
        response = await http.post(f"{authed_bot.url}/api/messages", json=body, headers=headers)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        assert response.json()["error"] == "Unauthorized"
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused a request from")]
    for (name, _), record in zip(cases.items(), refusals, strict=False):
        print(f"{name:32} 401  {record.getMessage().split(': ', 1)[1]}")
    assert len(refusals) == len(cases), [r.getMessage() for r in refusals]
    assert all(r.exc_info is None for r in caplog.records)
    assert "Traceback" not in caplog.text
    for header, _ in cases.values():
        token = (header or "").removeprefix("Bearer ").removeprefix("Basic ")
        assert len(token) < 20 or token not in caplog.text, "a token was logged"
    stats = await sim_stats(http, authed_bot)
    assert stats["total"] == 0, f"a refused request reached Graph: {stats}"
    assert connector.received == [], "a refused request got a reply"
    assert keys.requests == 1, "the keys were fetched once, and not again for the unknown kid at once"


async def _action(
    http: httpx.AsyncClient, bot: RunningBot, service_url: str, header: str, command: str
) -> httpx.Response:
    body = activity(
        None,
        service_url=service_url,
        kind="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "command", "data": {"command": command}}},
    )
    return await http.post(f"{bot.url}/api/messages", json=body, headers={"Authorization": header})


async def test_a_valid_token_reaches_the_pipeline(
    http: httpx.AsyncClient, authed_bot: RunningBot, keys: KeyServer, connector: Connector
) -> None:
    # An invoke is answered in the HTTP response: no reply goes out (which would need a token from
    # Azure AD for the app id), so the test stays on loopback.
    token = keys.token(app_id=APP_ID, service_url=connector.url)
    response = await _action(http, authed_bot, connector.url, f"Bearer {token}", "/busy 30m")
    assert response.status_code == 200, response.text
    assert "In a call" in texts(response.json()["value"])
    stats = await sim_stats(http, authed_bot)
    assert any(not route.startswith("GET") for route in stats["requests"]), stats


@pytest.mark.parametrize(
    "issuer",
    [
        EMULATOR_ISSUER,  # the Emulator's (botbuilder's list)
        f"https://login.microsoftonline.com/{TENANT}/v2.0",  # the bot's own tenant (single-tenant)
        f"https://sts.windows.net/{TENANT}/",
    ],
)
async def test_emulator_and_single_tenant_tokens_carry_the_app_id_in_azp_or_appid(
    http: httpx.AsyncClient, authed_bot: RunningBot, keys: KeyServer, connector: Connector, issuer: str
) -> None:
    v2 = issuer.endswith("/v2.0")
    claims: dict[str, Any] = {"ver": "2.0", "azp": APP_ID} if v2 else {"ver": "1.0", "appid": APP_ID}
    token = keys.token(app_id=APP_ID, service_url=connector.url, issuer=issuer, **claims)
    response = await _action(http, authed_bot, connector.url, f"Bearer {token}", "/presence")
    assert response.status_code == 200, response.text
    assert "Available" in texts(response.json()["value"])


async def test_another_tenants_issuer_is_refused(
    http: httpx.AsyncClient, authed_bot: RunningBot, keys: KeyServer, connector: Connector
) -> None:
    issuer = "https://login.microsoftonline.com/0badc0de-0000-4000-8000-000000000000/v2.0"
    token = keys.token(app_id=APP_ID, service_url=connector.url, issuer=issuer, ver="2.0", azp=APP_ID)
    response = await _action(http, authed_bot, connector.url, f"Bearer {token}", "/presence")
    assert response.status_code == 401


async def test_a_stalled_key_server_stalls_only_the_requests_that_need_it(
    http: httpx.AsyncClient, tmp_path: Path, connector: Connector, caplog: pytest.LogCaptureFixture
) -> None:
    async with key_server(KeyServer(stall=10.0)) as keys:
        running = await _bot(tmp_path, keys)
        try:
            token = keys.token(app_id=APP_ID, service_url=connector.url)
            body = activity("/busy 30m", service_url=connector.url)

            async def post() -> tuple[int, float]:
                started = time.monotonic()
                response = await http.post(
                    f"{running.url}/api/messages", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                return response.status_code, time.monotonic() - started

            pending = [asyncio.create_task(post()) for _ in range(4)]
            slowest_health = 0.0
            answered_meanwhile = 0  # /healthz answers while all four requests still waited for the keys
            while not all(task.done() for task in pending):
                started = time.monotonic()
                health = await http.get(f"{running.url}/healthz")
                slowest_health = max(slowest_health, time.monotonic() - started)
                assert health.status_code == 200
                answered_meanwhile += not any(task.done() for task in pending)
                await asyncio.sleep(0.1)
            results = [task.result() for task in pending]
            print(
                f"\nstalled key server: 4 requests answered {[status for status, _ in results]} in "
                f"{[round(seconds, 2) for _, seconds in results]} s; slowest /healthz {slowest_health:.3f} s"
            )
            # The fetch gives up after 5 s, the key server stalls 10 s: /healthz blocked behind the fetch
            # would answer once at most before the four requests end.
            assert answered_meanwhile >= 3, f"/healthz answered {answered_meanwhile} times during the fetch"
            # A 503 each: they ended at the fetch's timeout, not when the stalled key server answered.
            assert all(status == 503 for status, _ in results), results
            assert keys.requests == 1, "the four requests shared one fetch"

            started = time.monotonic()
            again = await http.post(
                f"{running.url}/api/messages", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert again.status_code == 503 and again.headers["Retry-After"] == "30"
            remembered = time.monotonic() - started
            print(f"a fifth request within the failure memory: {again.status_code} in {remembered:.3f} s")
            assert keys.requests == 1, "the failure is remembered: no second fetch, so no second wait"
            assert "Traceback" not in caplog.text
            assert (await sim_stats(http, running))["total"] == 0
        finally:
            await running.stop()


async def test_without_an_app_id_nothing_is_checked(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """Development (the Emulator without credentials): a header, even a bad one, is not looked at."""
    body = activity("/presence", service_url=connector.url)
    response = await http.post(
        f"{bot.url}/api/messages", json=body, headers={"Authorization": "Bearer not.a.token"}
    )
    assert response.status_code == 201
    await connector.wait_for(1)
