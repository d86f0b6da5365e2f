"""Graph failing through the whole bot: faults injected in the embedded simulated tenant
(`POST /sim/_sim/faults`), a chat command sent as Teams would, and the reply timed against Teams'
~15 s. The simulator's `applied` counts prove no write ever lands twice (a call refused by a fault is
not applied)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bot.server import RunningBot
from tests.support.connector import Connector
from tests.support.e2e import app_session, card_of, say, sim_stats, sim_user, texts
from tests.support.waiting import eventually

ALEX = "00000000-0000-0000-0000-0000000000020"
SET_PRESENCE = "POST /v1.0/users/{id}/presence/setPresence"
SET_PREFERRED = "POST /v1.0/users/{id}/presence/setUserPreferredPresence"
TEAMS_WAITS = 15.0  # seconds Teams waits for a bot's reply


async def add_fault(http: httpx.AsyncClient, bot: RunningBot, **fault: Any) -> None:
    response = await http.post(f"{bot.url}/sim/_sim/faults", json=fault)
    assert response.status_code == 201, response.text


async def faults_left(http: httpx.AsyncClient, bot: RunningBot) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = (await http.get(f"{bot.url}/sim/_sim/faults")).json()["faults"]
    return faults


async def applied(http: httpx.AsyncClient, bot: RunningBot) -> dict[str, int]:
    counts: dict[str, int] = (await sim_stats(http, bot))["applied"]
    return counts


async def timed_say(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, text: str
) -> tuple[str, float]:
    started = time.monotonic()
    reply = await say(http, bot, connector, text)
    return texts(card_of(reply)), time.monotonic() - started


@pytest.mark.parametrize("match", ["setPresence", "$batch"])
async def test_two_429s_are_waited_out_and_the_command_succeeds(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, match: str
) -> None:
    """`setPresence`: the batch entry is throttled, then the write sent alone; `$batch`: the envelope."""
    await add_fault(http, bot, match=match, status=429, count=2, retry_after=1)
    shown, elapsed = await timed_say(http, bot, connector, "/busy 30m")
    assert "In a call" in shown
    assert 2.0 <= elapsed < TEAMS_WAITS, f"Retry-After: 1 honoured twice, took {elapsed:.2f} s"
    assert await faults_left(http, bot) == []
    assert await applied(http, bot) == {SET_PRESENCE: 1}
    session = app_session(await sim_user(http, bot, ALEX))
    assert session is not None and session["activity"] == "InACall"


async def test_an_outage_gets_a_clear_card_in_time_and_the_bot_keeps_serving(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await add_fault(http, bot, match="", status=503, count=10)
    shown, elapsed = await timed_say(http, bot, connector, "/busy 30m")
    assert "Microsoft Graph is unavailable" in shown
    assert "Nothing was changed" in shown
    assert elapsed < TEAMS_WAITS, f"error card after {elapsed:.2f} s"
    assert await applied(http, bot) == {}
    left = await faults_left(http, bot)
    assert left and left[0]["remaining"] == 4, "six tries, then the card"

    # The tail of the outage: the next command retries through the last four 503s and succeeds.
    shown, elapsed = await timed_say(http, bot, connector, "/dnd 1h")
    assert "Do not disturb" in shown
    assert elapsed < TEAMS_WAITS
    assert await faults_left(http, bot) == []
    counts = await applied(http, bot)
    assert counts[SET_PREFERRED] == 1
    assert SET_PRESENCE not in counts, "the failed /busy never landed"
    state = await sim_user(http, bot, ALEX)
    assert app_session(state) is None
    assert state["preferred"]["availability"] == "DoNotDisturb"


async def test_a_20_s_stall_gets_a_timeout_card_in_time_and_the_write_is_not_sent_twice(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await add_fault(http, bot, match="", delay_ms=20_000)
    shown, elapsed = await timed_say(http, bot, connector, "/busy 30m")
    assert "didn't answer in time" in shown
    assert "may or may not have been applied" in shown
    assert elapsed < TEAMS_WAITS, f"timeout card after {elapsed:.2f} s"
    assert await applied(http, bot) == {}, "still stalled"

    # Clearing the faults releases the stalled call: it lands late, once; the bot never resent it.
    assert (await http.delete(f"{bot.url}/sim/_sim/faults")).status_code == 204

    async def landed() -> bool:
        return await applied(http, bot) == {SET_PRESENCE: 1}

    await eventually(landed, seconds=5, what="the released write landing")
    stats = await sim_stats(http, bot)
    assert stats["requests"] == {"POST /v1.0/$batch": 1}

    shown, elapsed = await timed_say(http, bot, connector, "/dnd 1h")
    assert "Do not disturb" in shown
    counts = await applied(http, bot)
    assert (counts[SET_PRESENCE], counts[SET_PREFERRED]) == (1, 1), "the late write was never resent"
    state = await sim_user(http, bot, ALEX)
    assert (app_session(state) or {})["activity"] == "InACall"
    assert state["preferred"]["availability"] == "DoNotDisturb"
