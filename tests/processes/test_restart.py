"""A hold survives the bot being killed: the real `presence-bot serve` process, SIGKILL, a new process
on the same data directory (SQLite store and the simulated tenant's saved state and clock)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tests.support.builders import ALEX
from tests.support.connector import Connector
from tests.support.e2e import (
    advance,
    app_session,
    card_of,
    notices,
    parse_utc,
    presence_is,
    say,
    sim_user,
    texts,
)
from tests.support.procs import BotProcess, running
from tests.support.timers import settle_process
from tests.support.waiting import eventually


async def test_a_hold_survives_sigkill_and_ends_with_one_notice(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    bot = BotProcess(tmp_path / "data")
    async with running(bot):
        reply = await say(http, bot, connector, "/busy 6h")
        assert "renews it" in texts(card_of(reply))
        await advance(http, bot, minutes=60)

        await bot.kill()  # in the middle of the hold; nothing gets to shut down cleanly
        assert bot.process is not None and bot.process.returncode == -9
        await bot.start()

        shown = texts(card_of(await say(http, bot, connector, "/presence")))
        assert "keeping you In a call" in shown, shown

        await advance(http, bot, minutes=3 * 60 + 5)  # 4 h 5 min after the command: past Graph's cap
        await eventually(lambda: presence_is(http, bot, "Busy", "InACall"))
        await settle_process(http, bot)  # the refresh has finished: a notice it sent would be in
        session = app_session(await sim_user(http, bot, ALEX))
        assert session is not None and session["activity"] == "InACall"
        assert notices(connector) == []

        await advance(http, bot, minutes=2 * 60)  # 6 h 5 min after the command
        await eventually(lambda: presence_is(http, bot, "Available", "Available"))
        assert app_session(await sim_user(http, bot, ALEX)) is None
        await eventually(lambda: asyncio.sleep(0, result=len(notices(connector)) >= 1))
        await settle_process(http, bot)  # nothing due or firing any more: no second notice can still come
        sent = notices(connector)
        assert len(sent) == 1, [texts(card_of(a)) for a in sent]
        assert "In a call has ended" in texts(card_of(sent[0]))


async def test_a_refresh_missed_while_the_bot_was_down_fires_on_start(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    bot = BotProcess(tmp_path / "data")
    async with running(bot):
        await say(http, bot, connector, "/busy 6h")
        first = app_session(await sim_user(http, bot, ALEX))
        assert first is not None
        await bot.kill()

        # The bot stays down for 4 h 10 min: the refresh due at 3 h 58 min is missed and Graph lets
        # the 4-hour session lapse. The simulated clock only moves while its process runs, so the
        # downtime is written into the simulator's saved state, as the clock would have moved.
        state_path = bot.data_dir / "sim-state.json"
        state = json.loads(state_path.read_text())
        state["clockOffsetSeconds"] = float(state.get("clockOffsetSeconds", 0.0)) + (4 * 60 + 10) * 60
        state_path.write_text(json.dumps(state))

        await bot.start()
        await eventually(lambda: presence_is(http, bot, "Busy", "InACall"))
        session = app_session(await sim_user(http, bot, ALEX))
        assert session is not None
        # A new 4-hour step, not the lapsed one: it runs to the requested end, 6 h after the command.
        assert parse_utc(session["expiresAt"]) > parse_utc(first["expiresAt"])
        await settle_process(http, bot)  # the missed refresh has finished: a notice it sent would be in
        assert notices(connector) == []
