"""Durable holds end to end: the real app, the simulator's clock moved forward, timers firing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import RUNTIME
from bot.core.users import UserRef
from bot.server import RunningBot, start_bot
from tests.support.builders import ALEX, TENANT, activity, make_settings
from tests.support.connector import Connector
from tests.support.e2e import advance, app_session, card_of, notices, presence_is, say, sim_user, texts
from tests.support.store import list_audit
from tests.support.timers import settle
from tests.support.waiting import eventually


@pytest.fixture
async def bot(tmp_path: Path, store_url: str) -> AsyncIterator[RunningBot]:
    """The app on SQLite (the default: its own file) and on PostgreSQL (a private schema)."""
    url = None if store_url.startswith("sqlite") else store_url
    running = await start_bot(make_settings(tmp_path / "data", store={"database_url": url}), "127.0.0.1", 0)
    yield running
    await running.stop()


async def test_available_2h_does_not_fade(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, "/available 2h")
    assert "refreshes it" in texts(card_of(reply))
    for _ in range(4):
        await advance(http, bot, minutes=6)
        await settle(bot)
        await eventually(lambda: presence_is(http, bot, "Available", "Available"))
        session = app_session(await sim_user(http, bot, ALEX))
        assert session is not None and session["activity"] == "Available"


async def test_busy_6h_is_held_past_4h_and_ends_with_one_notice(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, "/busy 6h")
    shown = texts(card_of(reply))
    assert "renews it" in shown and "lapse" not in shown
    await advance(http, bot, minutes=4 * 60 + 5)
    await settle(bot)
    await eventually(lambda: presence_is(http, bot, "Busy", "InACall"))
    assert notices(connector) == []

    await advance(http, bot, minutes=2 * 60)  # now 6 h 5 min after the command
    await settle(bot)
    await eventually(lambda: presence_is(http, bot, "Available", "Available"))
    assert app_session(await sim_user(http, bot, ALEX)) is None
    await settle(bot)  # nothing due or firing any more: no second notice can still come
    sent = notices(connector)
    assert len(sent) == 1, [texts(card_of(a)) for a in sent]
    assert "In a call has ended" in texts(card_of(sent[0]))
    assert sent[0]["_conversation_id"] == "e2ac58d2-d449-4671-b04a-ce88004c979a"


async def test_clear_cancels_the_hold(http: httpx.AsyncClient, bot: RunningBot, connector: Connector) -> None:
    await say(http, bot, connector, "/busy 6h")
    await say(http, bot, connector, "/clear")
    await advance(http, bot, minutes=7 * 60)
    await settle(bot)
    assert await presence_is(http, bot, "Available", "Available")
    assert app_session(await sim_user(http, bot, ALEX)) is None
    assert notices(connector) == []


async def test_a_newer_command_replaces_the_hold(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 6h")
    await say(http, bot, connector, "/conference 5h")
    await advance(http, bot, minutes=4 * 60 + 5)
    await settle(bot)
    session = app_session(await sim_user(http, bot, ALEX))
    assert session is not None and session["activity"] == "InAConferenceCall"


async def test_notify_off_silences_the_end_notice(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, "/notify off")
    assert "Notices are off" in texts(card_of(reply))
    await say(http, bot, connector, "/busy 30m")
    await advance(http, bot, minutes=31)
    await settle(bot)
    await eventually(lambda: presence_is(http, bot, "Available", "Available"))
    assert notices(connector) == []


async def test_overridden_elsewhere_ends_the_hold_with_a_notice(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 6h")
    # The user picks Do not disturb in Teams (a preferred presence the bot did not set).
    response = await http.post(
        f"{bot.url}/sim/_sim/users/{ALEX}/clients",
        json={"availability": "DoNotDisturb", "activity": "DoNotDisturb"},
    )
    assert response.status_code in (200, 201), response.text
    await advance(http, bot, minutes=4 * 60)
    await settle(bot)
    await eventually(lambda: asyncio.sleep(0, result=bool(notices(connector))))
    assert "overridden" in texts(card_of(notices(connector)[0]))
    assert app_session(await sim_user(http, bot, ALEX)) is None


async def test_longer_than_the_maximum_hold_is_refused(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, "/busy 13h")
    assert "at most 12 hours" in texts(card_of(reply))
    assert app_session(await sim_user(http, bot, ALEX)) is None


async def test_timezone_command_changes_how_until_is_read(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, "/timezone Asia/Tokyo")
    assert "Asia/Tokyo" in texts(card_of(reply))
    reply = await say(http, bot, connector, "/presence")  # Teams still reports UTC on the activity
    assert "Asia/Tokyo" in texts(card_of(reply))


async def test_a_redelivered_activity_is_not_acted_on_twice(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    body = activity("/busy 30m", service_url=connector.url)
    first = await http.post(f"{bot.url}/api/messages", json=body)
    assert first.status_code in (200, 201)
    await connector.wait_for(1)
    await http.post(
        f"{bot.url}/sim/_sim/users/{ALEX}/clients",
        json={"availability": "Available", "activity": "Available"},
    )
    second = await http.post(f"{bot.url}/api/messages", json=body)
    assert second.status_code in (200, 201)
    # A turn's replies are sent before /api/messages answers; had the redelivery been acted on, its reply
    # would be in before the reply to the next message.
    follow_up = await say(http, bot, connector, "/presence")
    assert len(connector.received) == 2
    assert "keeping you In a call" in texts(card_of(follow_up))
    store = bot.app[RUNTIME].services.store
    from bot.core.users import UserRef

    audit = await list_audit(store, UserRef(user_id=ALEX, tenant_id="00000000-0000-0000-0000-0000000000001"))
    assert [entry.operation for entry in audit] == ["set_presence"]
    assert audit[0].outcome == "ok"


async def test_busy_after_the_bots_dnd_shows_busy(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/dnd 1h")
    reply = await say(http, bot, connector, "/busy 30m")
    state = await sim_user(http, bot, ALEX)
    assert state["preferred"] is None, "the bot's own Do not disturb is replaced"
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Busy", "InACall")
    assert "picked" not in texts(card_of(reply))


async def test_a_status_picked_in_teams_is_left_alone(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    # Picked in Teams (straight to Graph), not through the bot: the bot explains instead of clearing it.

    graph = bot.app[RUNTIME].services.graph
    from bot.graph.client import set_preferred_write

    await graph.apply(ALEX, [set_preferred_write("DoNotDisturb", "DoNotDisturb", None)], read=False)
    reply = await say(http, bot, connector, "/busy 30m")
    state = await sim_user(http, bot, ALEX)
    assert state["preferred"]["availability"] == "DoNotDisturb"
    assert "/reset" in texts(card_of(reply))


async def test_dnd_after_a_held_busy_does_not_resurface_busy(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 3h")
    await say(http, bot, connector, "/dnd 30m")
    assert app_session(await sim_user(http, bot, ALEX)) is None
    await advance(http, bot, minutes=31)
    await settle(bot)
    assert await presence_is(http, bot, "Available", "Available")


async def test_presence_card_shows_what_the_bot_is_holding(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 6h")
    shown = texts(card_of(await say(http, bot, connector, "/presence")))
    assert "keeping you In a call" in shown


async def test_healthz_reports_timer_firings(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    before = (await http.get(f"{bot.url}/healthz")).json()["timers"]
    assert before["fired"] == 0 and before["latenessP99"] is None
    await say(http, bot, connector, "/available 2h")
    await advance(http, bot, minutes=6)
    await settle(bot)
    after = (await http.get(f"{bot.url}/healthz")).json()["timers"]
    assert after["fired"] >= 1
    assert after["latenessP50"] is not None and after["latenessP99"] >= after["latenessP50"] >= 0


async def test_a_hold_that_lost_its_timers_is_repaired_on_start(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """A process killed between storing a hold and scheduling its timers: the start-up repair."""
    import sqlalchemy as sa

    from bot.store.schema import timers

    runtime = bot.app[RUNTIME]
    await say(http, bot, connector, "/busy 6h")
    async with runtime.services.store.write() as connection:
        await connection.execute(sa.delete(timers))
    assert await runtime.services.keeper.repair() == 1
    assert await runtime.services.keeper.repair() == 0
    await advance(http, bot, minutes=4 * 60 + 5)
    await settle(bot)
    await eventually(lambda: presence_is(http, bot, "Busy", "InACall"))
    await advance(http, bot, minutes=2 * 60)
    await settle(bot)
    await eventually(lambda: presence_is(http, bot, "Available", "Available"))
    await eventually(lambda: asyncio.sleep(0, result=len(notices(connector)) == 1))


async def test_no_refresh_is_scheduled_once_the_session_lasts_to_the_end(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """After the refresh at 3 h 58 min the session runs to the requested end: no refresh is left to
    collide with the end (two replicas would both end the hold)."""
    from bot.store.records import hold_timer_key

    runtime = bot.app[RUNTIME]
    await say(http, bot, connector, "/busy 6h")
    hold = await runtime.services.store.get_active_hold(UserRef(user_id=ALEX, tenant_id=TENANT))
    assert hold is not None
    assert await runtime.services.timers.get(hold_timer_key(hold.id, "refresh")) is not None
    await advance(http, bot, minutes=4 * 60)
    await settle(bot)
    refreshed = await runtime.services.store.get_hold(hold.id)
    assert refreshed is not None and refreshed.graph_expires_at == refreshed.requested_end
    assert await runtime.services.timers.get(hold_timer_key(hold.id, "refresh")) is None
    assert await runtime.services.timers.get(hold_timer_key(hold.id, "end")) is not None
    assert await runtime.services.keeper.repair() == 0, "a session in its last stretch needs no refresh"
    assert await runtime.services.timers.get(hold_timer_key(hold.id, "refresh")) is None


@pytest.mark.parametrize(
    ("set_in", "shown_in", "notice_in"),
    [
        # Set in the 1:1 chat, then a message in a group chat: the end notice still goes to the 1:1 chat.
        ("a:one-to-one", "19:group@thread.v2", "a:one-to-one"),
        # Set in a group chat, then a 1:1 message: it goes to the group chat, where it was asked for.
        ("19:group@thread.v2", "a:one-to-one", "19:group@thread.v2"),
    ],
)
async def test_the_notice_goes_to_the_conversation_the_hold_was_set_from(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, set_in: str, shown_in: str, notice_in: str
) -> None:
    def where(conversation_id: str) -> dict[str, str]:
        group = conversation_id.startswith("19:")
        return {"conversation_id": conversation_id, "conversation_type": "groupChat" if group else "personal"}

    mention = "<at>Test Bot</at> "
    await say(
        http, bot, connector, f"{mention if set_in.startswith('19:') else ''}/busy 10m", **where(set_in)
    )
    await say(
        http, bot, connector, f"{mention if shown_in.startswith('19:') else ''}/presence", **where(shown_in)
    )
    await advance(http, bot, minutes=11)
    await settle(bot)
    await eventually(lambda: asyncio.sleep(0, result=len(notices(connector)) == 1))
    assert notices(connector)[0]["_conversation_id"] == notice_in
