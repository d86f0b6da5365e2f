"""`/healthz` (liveness) and `/readyz` (readiness: the store, the timers and, against real Graph, a
token), through the real app; and the readiness checks' own rules (Graph asked at most once a minute)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from bot.app import RUNTIME
from bot.health import Readiness
from bot.server import RunningBot, start_bot
from bot.sim.standalone import StandaloneSimulator
from bot.store import Store, TimerService
from tests.support.builders import real_tenant_settings


async def test_a_started_bot_is_live_and_ready(http: httpx.AsyncClient, bot: RunningBot) -> None:
    ready = await http.get(f"{bot.url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"store": "ok", "timers": "ok", "graph": "skipped (simulated tenant)"},
        "failed": [],
    }
    live = await http.get(f"{bot.url}/healthz")
    assert live.status_code == 200
    assert {"status", "graph", "time", "timers"} <= set(live.json())


async def test_stopped_timers_make_it_unready_but_still_live(
    http: httpx.AsyncClient, bot: RunningBot
) -> None:
    timers = bot.app[RUNTIME].services.timers
    assert timers is not None
    await timers.stop()
    ready = await http.get(f"{bot.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["timers"] and ready.json()["checks"]["timers"] == "not running"
    live = await http.get(f"{bot.url}/healthz")
    assert live.status_code == 200 and live.json()["status"] == "ok"


class Broken:
    """A store whose database does not answer."""

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        raise OSError("connection refused")
        yield  # pragma: no cover


class Running:
    running = True


class Tokens:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error

    async def token(self, tenant_id: str | None = None) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return "token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def readiness(store: Any, tokens: Tokens | None, clock: Clock) -> Readiness:
    return Readiness(cast(Store, store), cast(TimerService, Running()), tokens, monotonic=clock)


async def test_a_store_that_does_not_answer_is_named() -> None:
    failed, checks = await readiness(Broken(), None, Clock()).check()
    assert failed == ["store"] and checks["store"] == "failed: OSError"


async def test_graph_is_asked_for_a_token_at_most_once_a_minute(store: Store) -> None:
    tokens, clock = Tokens(), Clock()
    probe = readiness(store, tokens, clock)
    for _ in range(20):  # a probe every 2 s for 40 s
        failed, checks = await probe.check()
        assert failed == [] and checks["graph"] == "ok"
        clock.now += 2
    assert tokens.calls == 1
    clock.now += 21  # 61 s after the first check
    await probe.check()
    assert tokens.calls == 2

    class Refused(Exception):
        code = "invalid_client"

    tokens.error = Refused("the secret was rejected")
    clock.now += 60
    failed, checks = await probe.check()
    assert failed == ["graph"] and checks["graph"] == "failed: no Graph token (invalid_client)"
    clock.now += 30
    assert (await probe.check())[0] == ["graph"]  # the refusal is remembered too: no storm of retries
    assert tokens.calls == 3


# -- against a real tenant: the standalone simulated tenant, reached as Entra ID and Graph would be ---------


@pytest.mark.parametrize(
    ("overrides", "status", "graph"),
    [
        ({}, 200, "ok"),
        ({"client_secret": "not-the-secret"}, 503, "failed: no Graph token (invalid_client)"),
        ({"tenant_id": ""}, 200, "skipped (no default tenant: set GRAPH_TENANT_ID)"),
    ],
    ids=["token", "wrong-secret", "no-default-tenant"],
)
async def test_readiness_against_real_graph_needs_a_token(
    tmp_path: Path,
    http: httpx.AsyncClient,
    simulator: StandaloneSimulator,
    overrides: dict[str, Any],
    status: int,
    graph: str,
) -> None:
    running = await start_bot(real_tenant_settings(tmp_path / "data", simulator, **overrides), "127.0.0.1", 0)
    try:
        ready = await http.get(f"{running.url}/readyz")
        assert ready.status_code == status, ready.text
        assert ready.json()["checks"] == {"store": "ok", "timers": "ok", "graph": graph}
        assert ready.json()["failed"] == ([] if status == 200 else ["graph"])
        live = await http.get(f"{running.url}/healthz")
        assert live.status_code == 200 and live.json()["graph"] == "microsoft-graph"
    finally:
        await running.stop()
