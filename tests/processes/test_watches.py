"""Watches as real `presence-bot serve` processes: a watch survives SIGKILL and a restart and still sends
its one notice, and two replicas on one PostgreSQL database poll once an interval between them, not twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.support.colleagues import GROUP, MEGAN, ROSTER, ask, set_clients, sign_in
from tests.support.connector import Connector
from tests.support.dbs import postgres_schema
from tests.support.e2e import card_of, sim_stats
from tests.support.playground import card_texts
from tests.support.procs import BotProcess, running
from tests.support.timers import watch_polls_over_process
from tests.support.waiting import eventually

INTERVAL = 1  # second: PRESENCE_BOT_WATCH_INTERVAL
POLLS = 8
BULK = "POST /v1.0/communications/getPresencesByUserId"


def watch_notices(connector: Connector, since: int = 0) -> list[list[str]]:
    return [
        texts
        for activity in connector.received[since:]
        if (texts := card_texts(card_of(activity))) and texts[0] == "Megan Bowen is free"
    ]


async def test_a_watch_survives_sigkill_and_sends_its_one_notice_after_the_restart(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    connector.rosters[GROUP] = list(ROSTER)
    bot = BotProcess(tmp_path / "data", {"PRESENCE_BOT_WATCH_INTERVAL": str(INTERVAL)}, name="watch")
    async with running(bot):
        await sign_in(http, bot, MEGAN, "Busy", "InACall")
        await set_clients(http, bot, MEGAN, "Busy", "InACall")
        assert (await ask(http, bot, connector, "/watch {}", MEGAN))[
            0
        ] == "I'll tell you when Megan Bowen is free"

        await bot.kill()  # nothing shuts down cleanly
        assert bot.process is not None and bot.process.returncode == -9
        await bot.start()
        listed = await ask(http, bot, connector, "/watches")
        assert any(line.startswith("Megan Bowen: when free") for line in listed), listed

        before = len(connector.received)
        await set_clients(http, bot, MEGAN, "Available", "Available")
        await eventually(
            lambda: asyncio.sleep(0, result=len(watch_notices(connector, before)) >= 1),
            what="the watch's notice after the restart",
            seconds=15,
        )
        await watch_polls_over_process(http, bot)  # no poll left to send another, nothing on its way
        assert len(watch_notices(connector, before)) == 1


async def test_two_replicas_on_postgresql_poll_once_an_interval_not_twice(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    connector.rosters[GROUP] = list(ROSTER)
    async with postgres_schema() as (url, db):
        env = {"DATABASE_URL": url, "PRESENCE_BOT_WATCH_INTERVAL": str(INTERVAL)}
        replicas = (
            BotProcess(tmp_path / "a", env, name="replica-a"),
            BotProcess(tmp_path / "b", env, name="replica-b"),
        )
        async with running(*replicas):
            # Each replica has its own simulated tenant: Megan is in a call in both.
            for replica in replicas:
                await sign_in(http, replica, MEGAN, "Busy", "InACall")
                await set_clients(http, replica, MEGAN, "Busy", "InACall")
            await ask(http, replicas[0], connector, "/watch {}", MEGAN)
            assert await db.fetchval("SELECT count(*) FROM timers WHERE key LIKE 'watch-poll:%'") == 1

            # Wait for 8 polls by either replica: one an interval takes at least ~7 intervals (at most one
            # more from a poll under way when the count starts), both polling would take about half that.
            for replica in replicas:
                await http.delete(f"{replica.url}/sim/_sim/stats")
            started = time.monotonic()
            polls: list[int] = []

            async def eight_polls() -> bool:
                polls[:] = [(await sim_stats(http, r))["requests"].get(BULK, 0) for r in replicas]
                return sum(polls) >= POLLS

            await eventually(eight_polls, seconds=60, what=f"{POLLS} polls")
            elapsed = time.monotonic() - started
            assert elapsed >= (POLLS - 2) * INTERVAL, (polls, elapsed)
            assert await db.fetchval("SELECT count(*) FROM watches WHERE ended_at IS NULL") == 1
