"""End to end: the real aiohttp app, Bot Framework activities POSTed to /api/messages, replies caught by a
local connector (as the Emulator and Teams deliver them), and the simulated tenant's state read back."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest

from bot.config import SIM_APP_ID
from bot.server import RunningBot, start_bot
from tests.support.builders import activity, make_settings
from tests.support.connector import Connector
from tests.support.e2e import app_session, bot_now, card_of, parse_utc, say, sim_stats, sim_user, texts

ALEX = "00000000-0000-0000-0000-0000000000020"

pytestmark = pytest.mark.asyncio


def close_to(actual: str | None, expected: datetime, slack: float = 5.0) -> bool:
    assert actual is not None
    return abs((parse_utc(actual) - expected).total_seconds()) <= slack


@pytest.mark.parametrize(
    ("text", "availability", "activity_", "minutes"),
    [
        ("/busy 30m", "Busy", "InACall", 30),
        ("/call", "Busy", "InACall", 60),
        ("conference 1h30m", "Busy", "InAConferenceCall", 90),
        ("/presenting for 45 min", "DoNotDisturb", "Presenting", 45),
        ("/AVAILABLE 2 hours", "Available", "Available", 120),
    ],
)
async def test_session_states_reach_graph_on_the_bots_session(
    http: httpx.AsyncClient,
    bot: RunningBot,
    connector: Connector,
    text: str,
    availability: str,
    activity_: str,
    minutes: int,
) -> None:
    now = await bot_now(http, bot)
    reply = await say(http, bot, connector, text)
    state = await sim_user(http, bot, ALEX)
    session = app_session(state)
    assert session is not None
    assert session["sessionId"] == SIM_APP_ID
    assert (session["availability"], session["activity"]) == (availability, activity_)
    assert close_to(session["expiresAt"], now + timedelta(minutes=minutes))
    assert (state["presence"]["availability"], state["presence"]["activity"]) == (availability, activity_)
    card = card_of(reply)
    from bot.core.states import teams_label

    assert teams_label(availability, activity_) in texts(card)
    assert reply.get("summary"), "every reply carries a text fallback"
    assert not reply.get("text"), "no second copy above the card that a button press would leave stale"


async def test_away_shows_even_while_a_teams_client_reports_available(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """Teams' "Appear away" is a picked status: it wins over the Teams client's Available, where an app
    session's Away would lose to it (docs/graph-facts.md §3)."""
    client = await http.post(
        f"{bot.url}/sim/_sim/users/{ALEX}/clients",
        json={"availability": "Available", "activity": "Available"},
    )
    assert client.status_code in (200, 201), client.text
    reply = await say(http, bot, connector, "/away 20m")
    state = await sim_user(http, bot, ALEX)
    assert app_session(state) is None, "not on the bot's session, where Available would outrank it"
    assert (state["preferred"]["availability"], state["preferred"]["activity"]) == ("Away", "Away")
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Away", "Away")
    shown = texts(card_of(reply))
    assert "Away" in shown and "outranks" not in shown


async def test_busy_picked_is_teams_own_busy(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy picked 1h")
    state = await sim_user(http, bot, ALEX)
    assert (state["preferred"]["availability"], state["preferred"]["activity"]) == ("Busy", "Busy")
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Busy", "Busy")


@pytest.mark.parametrize(
    ("text", "availability", "activity_", "expires_in"),
    [
        ("/dnd 1h", "DoNotDisturb", "DoNotDisturb", timedelta(hours=1)),
        ("/brb", "BeRightBack", "BeRightBack", timedelta(days=7)),
        ("do not disturb", "DoNotDisturb", "DoNotDisturb", timedelta(days=1)),
        ("/offline 2h", "Offline", "OffWork", timedelta(hours=2)),
    ],
)
async def test_preferred_states_are_set_as_the_users_preference(
    http: httpx.AsyncClient,
    bot: RunningBot,
    connector: Connector,
    text: str,
    availability: str,
    activity_: str,
    expires_in: timedelta,
) -> None:
    now = await bot_now(http, bot)
    reply = await say(http, bot, connector, text)
    state = await sim_user(http, bot, ALEX)
    assert app_session(state) is None, "preferred states never touch the bot's session"
    preferred = state["preferred"]
    assert (preferred["availability"], preferred["activity"]) == (availability, activity_)
    assert close_to(preferred["expiresAt"], now + expires_in)
    assert (state["presence"]["availability"], state["presence"]["activity"]) == (availability, activity_)
    from bot.core.states import teams_label

    assert teams_label(availability, activity_) in texts(card_of(reply))


async def test_dnd_until_5pm_uses_the_users_time_zone(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    zone = ZoneInfo("America/Los_Angeles")
    now = await bot_now(http, bot)
    await say(http, bot, connector, "/dnd until 5pm", time_zone="America/Los_Angeles")
    expected = now.astimezone(zone).replace(hour=17, minute=0, second=0, microsecond=0)
    if expected <= now:
        expected = (expected + timedelta(days=1)).replace(hour=17)
    preferred = (await sim_user(http, bot, ALEX))["preferred"]
    assert close_to(preferred["expiresAt"], expected)


async def test_clear_ends_only_the_bots_session(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 30m")
    reply = await say(http, bot, connector, "/clear")
    state = await sim_user(http, bot, ALEX)
    assert app_session(state) is None
    assert state["presence"]["availability"] == "Available"  # the Teams client decides again
    assert "Available" in texts(card_of(reply))
    again = await say(http, bot, connector, "/clear")
    assert "nothing to clear" in texts(card_of(again))


async def test_reset_goes_back_to_automatic(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 30m")
    await say(http, bot, connector, "/dnd 1h")
    await say(http, bot, connector, "/reset")
    state = await sim_user(http, bot, ALEX)
    assert app_session(state) is None
    assert state["preferred"] is None
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Available", "Available")


async def test_status_message_with_expiry_and_clear(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    now = await bot_now(http, bot)
    reply = await say(http, bot, connector, "/status Out for lunch for 1h")
    status = (await sim_user(http, bot, ALEX))["statusMessage"]
    assert status["message"]["content"] == "Out for lunch"
    assert status["message"]["contentType"] == "text"
    expiry = status["expiryDateTime"]
    assert expiry["timeZone"] == "UTC"
    assert abs((parse_utc(expiry["dateTime"] + "+00:00") - (now + timedelta(hours=1))).total_seconds()) < 5
    assert "Out for lunch" in texts(card_of(reply))

    await say(http, bot, connector, '/status "back in 5 minutes"')
    status = (await sim_user(http, bot, ALEX))["statusMessage"]
    assert status["message"]["content"] == "back in 5 minutes"
    assert not status.get("expiryDateTime")

    reply = await say(http, bot, connector, "/status clear")
    assert (await sim_user(http, bot, ALEX))["statusMessage"] is None
    assert "back in 5 minutes" not in texts(card_of(reply))


async def test_presence_shows_without_writing(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/busy 30m")
    await http.delete(f"{bot.url}/sim/_sim/stats")
    for text in ("/presence", "whoami", "/Show"):
        reply = await say(http, bot, connector, text)
        assert "In a call" in texts(card_of(reply))
    stats = await sim_stats(http, bot)
    writes = {k: v for k, v in stats["requests"].items() if not k.startswith("GET")}
    assert writes == {}, f"/presence must not write: {writes}"


@pytest.mark.parametrize(
    "text",
    [
        "/busy banana",
        "/status " + "x" * 281,
        "/busy for -5m",
        "/dnd until yesterday 5pm",
    ],
)
async def test_refused_commands_never_reach_graph(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, text: str
) -> None:
    await http.delete(f"{bot.url}/sim/_sim/stats")
    reply = await say(http, bot, connector, text)
    card_text = texts(card_of(reply))
    assert "/" in card_text, "a refusal shows a correct example"
    stats = await sim_stats(http, bot)
    assert stats["total"] == 0
    state = await sim_user(http, bot, ALEX)
    assert app_session(state) is None and state["preferred"] is None and state["statusMessage"] is None


async def test_help_and_unknown_words_list_every_command(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    from bot.turns.commands import COMMANDS

    most_used = [doc.name for doc in COMMANDS.shortlist()]

    shown = texts(card_of(await say(http, bot, connector, "/help")))
    for command in COMMANDS.docs():
        assert f"/{command.name}" in shown
    # Anything else gets a short card: the most used commands and a button for all of them.
    miss = card_of(await say(http, bot, connector, "coffee please"))
    assert "coffee" in texts(miss)
    assert [f"/{name}" in texts(miss) for name in most_used] == [True] * len(most_used)
    assert "/conference" not in texts(miss)
    assert [action["data"]["command"] for action in miss["actions"]] == ["/help"]


async def test_a_typo_gets_did_you_mean_with_the_corrected_command_as_a_button(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    for typed, meant in (("/bsy 30m", "/busy 30m"), ("/dnd1h", "/dnd 1h")):
        card = card_of(await say(http, bot, connector, typed))
        assert texts(card).startswith(f"Did you mean {meant}?")
        assert card["actions"][0]["data"]["command"] == meant
    # in a group chat too, and pressing it does what was meant
    card = card_of(
        await say(http, bot, connector, "<at>Test Bot</at> /avalable 20m", conversation_type="groupChat")
    )
    assert card["actions"][0]["data"]["command"] == "/available 20m"


async def test_changing_someone_elses_presence_is_refused_without_calling_graph(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, "/busy 30m for <at>Megan Bowen</at>")
    assert "only change your own presence" in texts(card_of(reply))
    assert (await sim_stats(http, bot))["total"] == 0


async def test_group_chat_mention_is_stripped(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(
        http,
        bot,
        connector,
        "<at>Test Bot</at> /busy 30m",
        conversation_type="groupChat",
        conversation_id="3134ec71-2dd5-455f-8560-c9c4ee1a065b",
        entities=[
            {"type": "mention", "mentioned": {"id": "bot", "name": "Test Bot"}, "text": "<at>Test Bot</at>"},
            {"type": "clientInfo", "timezone": "UTC"},
        ],
    )
    assert "In a call" in texts(card_of(reply))
    assert reply["_conversation_id"] == "3134ec71-2dd5-455f-8560-c9c4ee1a065b"
    assert (app_session(await sim_user(http, bot, ALEX)) or {})["activity"] == "InACall"


async def test_channel_message_changes_only_the_sender(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    megan = "00000000-0000-0000-0000-0000000000021"
    await say(
        http,
        bot,
        connector,
        "<at>Test Bot</at> dnd 30m",
        conversation_type="channel",
        conversation_id="channel-announcements-id;messageid=1795325763648",
        user_id="user-id-1",
        aad=megan,
        user_name="Megan Bowen",
    )
    assert (await sim_user(http, bot, megan))["preferred"]["availability"] == "DoNotDisturb"
    assert (await sim_user(http, bot, ALEX))["preferred"] is None


async def test_emulator_user_without_aad_id_is_keyed_by_from_id(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "busy 30m", user_id="emulator-user-1", aad=None, time_zone=None)
    assert (app_session(await sim_user(http, bot, "emulator-user-1")) or {})["activity"] == "InACall"


async def test_card_submit_fallback_runs_the_command_for_the_presser(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await say(http, bot, connector, None, value={"command": "/dnd 1h"})
    assert "Do not disturb" in texts(card_of(reply))
    assert (await sim_user(http, bot, ALEX))["preferred"]["availability"] == "DoNotDisturb"


async def test_action_execute_updates_the_card_in_place(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    body = activity(
        None,
        service_url=connector.url,
        kind="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "command", "data": {"command": "/busy 30m"}}},
    )
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["statusCode"] == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "In a call" in texts(answer["value"])
    assert (app_session(await sim_user(http, bot, ALEX)) or {})["activity"] == "InACall"


async def test_welcome_card_on_install(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    body = activity(
        None,
        service_url=connector.url,
        kind="conversationUpdate",
        membersAdded=[{"id": "user-id-0"}, {"id": "00000000-0000-0000-0000-00000000000011"}],
    )
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code in (200, 201)
    received = await connector.wait_for(1)
    welcome = texts(card_of(received[0]))
    assert "/busy" in welcome and "/lunch" in welcome


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"text": "no type"}', "application/json"),
        (b'{"type": "message", "text": "hi"}', "application/json"),
        (b'{"type": "message", "from": "alex", "serviceUrl": "http://x"}', "application/json"),
        (  # no sender: the bot only ever acts for who is speaking
            b'{"type": "message", "text": "/busy", "serviceUrl": "http://x", "conversation": {"id": "c"}}',
            "application/json",
        ),
        (b'{"type": "message", "from": {"id": "u"}, "serviceUrl": "http://x"}', "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_malformed_bodies_get_400_not_500(
    http: httpx.AsyncClient, bot: RunningBot, content: bytes, content_type: str
) -> None:
    response = await http.post(
        f"{bot.url}/api/messages", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400, response.text


async def test_healthz(http: httpx.AsyncClient, bot: RunningBot) -> None:
    response = await http.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_a_tenant_where_the_app_is_not_consented_gets_a_clear_card(
    http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    """PRESENCE_BOT_SIM_TENANTS restricts the embedded simulator, to rehearse a tenant without consent."""
    from tests.support.builders import TENANT

    bot = await start_bot(make_settings(tmp_path / "d", simulator={"tenants": [TENANT]}), "127.0.0.1", 0)
    try:
        other = "7a1d2f3e-4b5c-4d6e-8f70-8192a3b4c5d6"
        body = activity("/busy 30m", service_url=connector.url)
        body["conversation"]["tenantId"] = other
        body["channelData"] = {"tenant": {"id": other}}
        response = await http.post(f"{bot.url}/api/messages", json=body)
        assert response.status_code in (200, 201)
        reply = (await connector.wait_for(1))[0]
        shown = texts(card_of(reply))
        assert "couldn't sign in" in shown
        assert app_session(await sim_user(http, bot, ALEX)) is None
    finally:
        await bot.stop()


async def test_by_default_the_simulator_serves_any_tenant_a_conversation_names(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """A developer's own Teams tenant works out of the box: the simulated app is consented everywhere,
    and the token is issued for the conversation's tenant."""
    from bot.app import RUNTIME

    mine = "2f5e8a41-6c3b-4d7e-9a10-b2c3d4e5f607"
    body = activity("/busy 30m", service_url=connector.url)
    body["conversation"]["tenantId"] = mine
    body["channelData"] = {"tenant": {"id": mine}}
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code in (200, 201)
    assert "In a call" in texts(card_of((await connector.wait_for(1))[0]))
    tokens = bot.app[RUNTIME].services.tokens
    assert tokens is not None
    token = await tokens.token(mine)  # the cached one the command used
    assert tokens.requests_made == 1
    assert jwt.decode(token, options={"verify_signature": False})["tid"] == mine


async def test_allowed_tenants_refuses_others_without_calling_graph(
    http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    running = await start_bot(
        make_settings(tmp_path / "d", bot={"allowed_tenants": ["someone-else"]}), "127.0.0.1", 0
    )
    try:
        reply = await say(http, running, connector, "/busy 30m")
        assert "can't use this bot" in texts(card_of(reply))
        assert (await sim_stats(http, running))["total"] == 0
    finally:
        await running.stop()


async def test_one_deployment_serves_several_tenants_with_a_token_each(
    http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    from bot.app import RUNTIME
    from tests.support.builders import TENANT

    second = "7a1d2f3e-4b5c-4d6e-8f70-8192a3b4c5d6"
    running = await start_bot(
        make_settings(tmp_path / "d", simulator={"tenants": [TENANT, second]}), "127.0.0.1", 0
    )
    try:
        await say(http, running, connector, "/busy 30m")
        body = activity("/dnd 1h", service_url=connector.url, aad="megan-in-fabrikam")
        body["conversation"]["tenantId"] = second
        body["channelData"] = {"tenant": {"id": second}}
        response = await http.post(f"{running.url}/api/messages", json=body)
        assert response.status_code in (200, 201)
        reply = (await connector.wait_for(2))[1]
        assert "Do not disturb" in texts(card_of(reply))
        await say(http, running, connector, "/presence")
        tokens = running.app[RUNTIME].services.tokens
        assert tokens is not None
        assert tokens.requests_made == 2, "one token per tenant, then cached"
    finally:
        await running.stop()


async def test_an_unreachable_channel_is_one_log_line(
    http: httpx.AsyncClient, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The Emulator closed, a wrong serviceUrl: the command still runs; the log says why no reply."""
    response = await http.post(
        f"{bot.url}/api/messages", json=activity("/busy 30m", service_url="http://127.0.0.1:9")
    )
    assert response.status_code == 201, response.text
    lines = [r for r in caplog.records if "could not send the reply to http://127.0.0.1:9" in r.getMessage()]
    assert lines and lines[0].exc_info is None
    presence = (await sim_user(http, bot, ALEX))["presence"]
    assert (presence["availability"], presence["activity"]) == ("Busy", "InACall")


# -- which activity, which tenant --------------------------------------------------------------------
async def test_the_same_activity_id_in_two_conversations_is_two_commands(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """Activity ids are unique only within a conversation: two users' activities with the same id are
    both carried out (the redelivery guard keys on channel, conversation and id)."""
    users = ("00000000-0000-0000-0000-0000000000031", "00000000-0000-0000-0000-0000000000032")
    for number, aad in enumerate(users):
        reply = await say(
            http,
            bot,
            connector,
            "/busy 30m",
            aad=aad,
            user_id=f"29:user-{number}",
            conversation_id=f"a:conversation-{number}",
            id="1",
        )
        assert "In a call" in texts(card_of(reply))
    for aad in users:
        session = app_session(await sim_user(http, bot, aad))
        assert session is not None and session["availability"] == "Busy"


async def test_an_activity_naming_two_tenants_is_refused_without_calling_graph(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    body = activity("/busy 30m", service_url=connector.url)
    body["channelData"] = {"tenant": {"id": "99999999-9999-9999-9999-999999999999"}}
    before = len(connector.received)
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code in (200, 201)
    reply = (await connector.wait_for(before + 1))[before]
    assert "can't use this bot" in texts(card_of(reply))
    assert (await sim_stats(http, bot))["total"] == 0


async def test_the_allow_list_applies_to_the_conversations_tenant_too(
    http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    """`conversation.tenantId` (what Teams sends) is checked, not only `channelData.tenant.id`."""
    allowed = "11111111-1111-1111-1111-111111111111"
    running = await start_bot(
        make_settings(tmp_path / "d", bot={"allowed_tenants": [allowed]}), "127.0.0.1", 0
    )
    try:
        body = activity("/busy 30m", service_url=connector.url)
        body["channelData"] = {"tenant": {"id": allowed}}  # the conversation still names TENANT
        before = len(connector.received)
        await http.post(f"{running.url}/api/messages", json=body)
        reply = (await connector.wait_for(before + 1))[before]
        assert "can't use this bot" in texts(card_of(reply))
        assert (await sim_stats(http, running))["total"] == 0
    finally:
        await running.stop()


async def test_a_state_and_a_status_message_in_one_command_end_together(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    now = await bot_now(http, bot)
    card = card_of(await say(http, bot, connector, "/busy 2h Focus time"))
    state = await sim_user(http, bot, ALEX)
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Busy", "InACall")
    status = state["statusMessage"]
    assert status["message"]["content"] == "Focus time"
    expiry = parse_utc(status["expiryDateTime"]["dateTime"] + "+00:00")
    assert abs((expiry - (now + timedelta(hours=2))).total_seconds()) < 5, "it ends when the state does"
    assert "Focus time" in texts(card) and "Status message set." in texts(card)


@pytest.mark.parametrize(
    ("text", "minutes", "message"),
    [
        ("/lunch", 60, "Out for lunch"),
        ("lunch 45m", 45, "Out for lunch"),
        ("/lunch 30m Team lunch", 30, "Team lunch"),
    ],
)
async def test_lunch_appears_away_over_a_teams_client_with_a_message_ending_with_it(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, text: str, minutes: int, message: str
) -> None:
    """`/lunch`: Teams' Appear away (a picked status, so it shows although the Teams client is open and
    Available) and a status message, both ending after an hour unless the user says otherwise."""
    client = await http.post(
        f"{bot.url}/sim/_sim/users/{ALEX}/clients",
        json={"availability": "Available", "activity": "Available"},
    )
    assert client.status_code in (200, 201), client.text
    now = await bot_now(http, bot)
    card = card_of(await say(http, bot, connector, text))
    state = await sim_user(http, bot, ALEX)
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Away", "Away")
    assert close_to(state["preferred"]["expiresAt"], now + timedelta(minutes=minutes))
    status = state["statusMessage"]
    assert status["message"]["content"] == message
    expiry = parse_utc(status["expiryDateTime"]["dateTime"] + "+00:00")
    assert abs((expiry - (now + timedelta(minutes=minutes))).total_seconds()) < 5, "both end together"
    shown = texts(card)
    assert "Away" in shown and message in shown and "both end together" in shown

    follow = texts(card_of(await say(http, bot, connector, "/reset")))  # back from lunch early
    after = await sim_user(http, bot, ALEX)
    assert after["preferred"] is None and after["presence"]["availability"] == "Available", follow


async def test_in_a_group_chat_a_press_changes_only_the_pressers_presence_and_the_card_keeps_its_owner(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    group = {"conversation_type": "groupChat", "conversation_id": "19:team-chat@thread.v2"}
    megan = "00000000-0000-0000-0000-0000000000777"
    # Alex sets In a call in the group chat; the card's buttons carry Alex as its owner.
    card = card_of(await say(http, bot, connector, "<at>Test Bot</at> /busy 30m", **group))
    dnd = next(a for a in card["actions"] if a["data"]["command"] == "/dnd 1h")
    assert dnd["data"]["owner"] == ALEX and "refresh" not in card
    # Megan presses "Do not disturb 1h" on Alex's card.
    before = len(connector.received)
    press = activity(
        None,
        service_url=connector.url,
        kind="invoke",
        name="adaptiveCard/action",
        aad=megan,
        user_id="29:megan",
        user_name="Megan Bowen",
        value={"action": {"type": "Action.Execute", "verb": "command", "data": dnd["data"]}},
        **group,
    )
    response = await http.post(f"{bot.url}/api/messages", json=press)
    assert response.status_code == 200, response.text
    shared = response.json()["value"]
    # The shared card still shows Alex, In a call: everyone in the chat keeps seeing its owner.
    assert "Alex" in texts(shared) and "In a call" in texts(shared)
    assert "Do not disturb" not in texts(shared).split("\n")[1]
    # Megan's own result came as a message of her own.
    mine = card_of((await connector.wait_for(before + 1))[before])
    assert "Megan Bowen" in texts(mine) and "Do not disturb" in texts(mine)
    # Only Megan's presence changed.
    assert (await sim_user(http, bot, megan))["presence"]["availability"] == "DoNotDisturb"
    assert (app_session(await sim_user(http, bot, ALEX)) or {})["activity"] == "InACall"
    assert (await sim_user(http, bot, ALEX))["presence"]["availability"] == "Busy"


def _apply(connector: Connector, form: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    data = {"command": "/set apply", **form}
    return activity(
        None,
        service_url=connector.url,
        kind="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "command", "data": data}},
        **kwargs,
    )


async def test_the_status_picker_opens_and_applies_like_teams_own(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    picker = card_of(await say(http, bot, connector, "/set"))
    ids = {element.get("id") for element in picker["body"]}
    assert {"availability", "duration", "custom", "message", "clear"} <= ids
    assert [action["data"]["command"] for action in picker["actions"]] == ["/set apply"]
    now = await bot_now(http, bot)
    form = {"availability": "busy picked", "duration": "2h", "message": "Focus time", "clear": "same"}
    response = await http.post(f"{bot.url}/api/messages", json=_apply(connector, form))
    assert response.status_code == 200, response.text
    shown = texts(response.json()["value"])
    assert "Busy" in shown and "Focus time" in shown  # it ends on the presence card
    state = await sim_user(http, bot, ALEX)
    assert (state["preferred"]["availability"], state["preferred"]["activity"]) == ("Busy", "Busy")
    assert close_to(state["preferred"]["expiresAt"], now + timedelta(hours=2))
    expiry = parse_utc(state["statusMessage"]["expiryDateTime"]["dateTime"] + "+00:00")
    assert abs((expiry - (now + timedelta(hours=2))).total_seconds()) < 5


async def test_the_pickers_custom_length_and_its_own_clear_after(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    now = await bot_now(http, bot)
    form = {
        "availability": "dnd",
        "duration": "custom",
        "custom": "45m",
        "message": "Heads down",
        "clear": "never",
    }
    response = await http.post(f"{bot.url}/api/messages", json=_apply(connector, form))
    assert response.status_code == 200, response.text
    state = await sim_user(http, bot, ALEX)
    assert state["preferred"]["availability"] == "DoNotDisturb"
    assert close_to(state["preferred"]["expiresAt"], now + timedelta(minutes=45))
    assert state["statusMessage"]["message"]["content"] == "Heads down"
    assert not state["statusMessage"].get("expiryDateTime"), "never clears"


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"availability": "banana", "duration": "1h"}, "Pick an availability"),
        ({"availability": "dnd", "duration": "custom", "custom": ""}, "needs a length"),
        ({"availability": "dnd", "duration": "custom", "custom": "soonish"}, "couldn't read"),
        ({"availability": "dnd", "duration": "1h", "message": "x" * 300}, "280"),
    ],
)
async def test_a_picker_that_cannot_be_applied_says_what_to_fix_and_changes_nothing(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, form: dict[str, str], says: str
) -> None:
    await http.delete(f"{bot.url}/sim/_sim/stats")
    response = await http.post(f"{bot.url}/api/messages", json=_apply(connector, form))
    assert response.status_code == 200, response.text
    assert says in texts(response.json()["value"])
    assert (await sim_stats(http, bot))["total"] == 0


async def test_extend_keeps_the_held_state_longer_and_says_so_when_there_is_none(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    refused = texts(card_of(await say(http, bot, connector, "/extend 30m")))
    assert "nothing to extend" in refused
    now = await bot_now(http, bot)
    card = card_of(await say(http, bot, connector, "/busy 30m"))
    assert {a["title"]: a["data"]["command"] for a in card["actions"]}["Extend 30 min"] == "/extend 30m"
    shown = texts(card_of(await say(http, bot, connector, "/extend 30m")))
    assert "Extended by 30 minutes: In a call." in shown
    held = texts(card_of(await say(http, bot, connector, "/presence")))
    assert "keeping you In a call" in held
    session = app_session(await sim_user(http, bot, ALEX))
    assert session is not None and close_to(session["expiresAt"], now + timedelta(hours=1))
