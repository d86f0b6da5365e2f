"""Two bot processes behind one PostgreSQL, as replicas behind a load balancer: hundreds of holds (400 in
`make test`, 1,000 in `make bench`'s soak: `REPLICA_HOLDS`), and every refresh and every end fires
exactly once, shared between both replicas.

Each process runs its own embedded simulated tenant (and its own simulated clock, moved forward by the
same amount on both); Graph writes go to the simulator of whichever replica fires the timer. What is
counted is the shared store: the audit log of Graph writes, the holds, and the replicas' own log lines.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from tests.support.builders import activity
from tests.support.connector import Connector
from tests.support.dbs import postgres_schema
from tests.support.e2e import advance
from tests.support.procs import BotProcess, running
from tests.support.timers import health
from tests.support.waiting import eventually

HOLDS = int(os.environ.get("REPLICA_HOLDS", "400"))
REFRESHED = re.compile(r"refreshed hold (\d+) until")


def user_activity(index: int, connector: Connector) -> dict[str, Any]:
    return activity(
        "/busy 6h",
        service_url=connector.url,
        user_id=f"user-{index}",
        aad=f"00000000-0000-0000-0000-{index:012d}",
        user_name=f"User {index}",
        conversation_id=f"conversation-{index}",
    )


async def test_two_replicas_fire_each_refresh_and_end_exactly_once(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    async with postgres_schema() as (url, db):
        replicas = (
            BotProcess(tmp_path / "a", {"DATABASE_URL": url}, name="replica-a"),
            BotProcess(tmp_path / "b", {"DATABASE_URL": url}, name="replica-b"),
        )
        async with running(*replicas):
            await _make_holds(http, connector, replicas)
            assert await db.fetchval("SELECT count(*) FROM holds WHERE status = 'active'") == HOLDS

            # 4 h later every hold's session is refreshed before Graph's 4-hour cap: once each.
            for replica in replicas:
                await advance(http, replica, minutes=4 * 60)

            async def all_refreshed() -> bool:
                done = await db.fetchval("SELECT count(*) FROM holds WHERE last_refresh_at > created_at")
                return bool(done == HOLDS)

            await eventually(all_refreshed, what="every hold refreshed", seconds=180)
            # Only the ends are left, due 2 h on: once nothing is due, leased or firing, a duplicate refresh
            # cannot still land.
            await eventually(lambda: quiet(http, db, replicas), what="the replicas' timers going quiet")
            writes = await _writes_per_user(db, "set_presence")
            assert len(writes) == HOLDS and set(writes.values()) == {2}, Counter(writes.values())
            fired = [REFRESHED.findall(replica.log_text()) for replica in replicas]
            assert all(fired), "both replicas fired refreshes: " + str([len(f) for f in fired])
            by_hold = Counter(hold for firings in fired for hold in firings)
            assert len(by_hold) == HOLDS and set(by_hold.values()) == {1}

            # At the requested end (6 h), each hold ends once: one clearPresence, one notice each.
            before = len(connector.received)
            for replica in replicas:
                await advance(http, replica, minutes=2 * 60 + 5)

            async def all_ended() -> bool:
                done = await db.fetchval("SELECT count(*) FROM holds WHERE status = 'ended'")
                return bool(done == HOLDS)

            await eventually(all_ended, what="every hold ended", seconds=180)
            await eventually(
                lambda: asyncio.sleep(0, result=len(connector.received) >= before + HOLDS),
                what="one end notice per hold",
                seconds=60,
            )
            await eventually(lambda: quiet(http, db, replicas), what="the replicas' timers going quiet")
            clears = await _writes_per_user(db, "clear_presence")
            assert len(clears) == HOLDS and set(clears.values()) == {1}, Counter(clears.values())
            notices = Counter(a["_conversation_id"] for a in connector.received[before:])
            assert len(notices) == HOLDS and set(notices.values()) == {1}
            # Every hold's timers are gone; only the daily retention pass is left, once.
            assert [row["key"] for row in await db.fetch("SELECT key FROM timers")] == [
                "maintenance:audit-prune"
            ]


async def quiet(http: httpx.AsyncClient, db: asyncpg.Connection, replicas: tuple[BotProcess, ...]) -> bool:
    """No timer due (at the replicas' clocks) or leased in the shared store, and no handler running in
    either replica: every firing that was due is done, and nothing fires until the clocks move."""
    before = [await health(http, replica) for replica in replicas]
    now = max(moment for moment, _ in before)
    pending = await db.fetchval(
        "SELECT count(*) FROM timers WHERE lease_until IS NOT NULL OR due_at <= $1", now
    )
    after = [await health(http, replica) for replica in replicas]  # a handler that started meanwhile
    return bool(pending == 0) and all(inflight == 0 for _, inflight in before + after)


async def _make_holds(
    http: httpx.AsyncClient, connector: Connector, replicas: tuple[BotProcess, ...]
) -> None:
    """1,000 users each send `/busy 6h`, spread over both replicas as a load balancer would."""
    gate = asyncio.Semaphore(16)

    async def send(index: int) -> None:
        replica = replicas[index % len(replicas)]
        async with gate:
            response = await http.post(f"{replica.url}/api/messages", json=user_activity(index, connector))
        assert response.status_code in (200, 201), response.text

    await asyncio.gather(*(send(i) for i in range(HOLDS)))
    await eventually(
        lambda: asyncio.sleep(0, result=len(connector.received) >= HOLDS),
        what="a card for every /busy",
        seconds=60,
    )


async def _writes_per_user(db: asyncpg.Connection, operation: str) -> dict[str, int]:
    """Graph writes sent per user, from the shared audit log; every one of them succeeded (clearPresence
    may meet a session that lapsed at the very moment the hold ended: Graph's 404, taken as done)."""
    outcomes = await db.fetch(
        "SELECT DISTINCT outcome, status_code FROM audit_log WHERE operation = $1", operation
    )
    assert {(row["outcome"], row["status_code"]) for row in outcomes} <= {("ok", 200), ("ok", 204)} | (
        {("itemNotFound", 404), ("ItemNotFound", 404), ("NotFound", 404)}
        if operation == "clear_presence"
        else set()
    ), outcomes
    rows = await db.fetch(
        "SELECT user_id, count(*) AS n FROM audit_log WHERE operation = $1 GROUP BY user_id", operation
    )
    return {row["user_id"]: int(row["n"]) for row in rows}
