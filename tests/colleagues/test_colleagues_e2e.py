"""/who and /watch through the real endpoint: Teams' mention entities and roster (the test connector
answers the roster), the simulated tenant's presence, status and out-of-office messages, and the
watcher's notice when a watched colleague's Teams client goes Available."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import RUNTIME
from bot.server import RunningBot, start_bot
from tests.support.builders import ALEX, activity, make_settings
from tests.support.colleagues import ADELE, GROUP, ISAIAH, LEE, MEGAN, ROSTER, ask, member, message, sim
from tests.support.connector import Connector
from tests.support.e2e import card_of, say
from tests.support.playground import card_texts
from tests.support.timers import watch_polls_over
from tests.support.waiting import eventually

INTERVAL = timedelta(seconds=1)


@pytest.fixture
async def colleagues_bot(tmp_path: Path, connector: Connector) -> AsyncIterator[RunningBot]:
    connector.rosters[GROUP] = list(ROSTER)
    running = await start_bot(
        make_settings(tmp_path / "data", colleagues={"watch_interval": INTERVAL, "who_limit": 3}),
        "127.0.0.1",
        0,
    )
    yield running
    await running.stop()


async def test_who_with_mentions_shows_what_the_tenant_holds(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    await sim(http, bot, "POST", f"/users/{MEGAN}/clients", {"availability": "Busy", "activity": "InACall"})
    await sim(http, bot, "POST", f"/users/{MEGAN}/statusMessage", {"message": "Design review until 3"})
    await sim(
        http, bot, "POST", f"/users/{ADELE}/clients", {"availability": "Available", "activity": "Available"}
    )
    await sim(http, bot, "POST", f"/users/{ADELE}/outOfOffice", {"message": "On leave until Monday"})

    shown = await ask(http, bot, connector, "/who {} {}", MEGAN, ADELE)

    assert shown[0] == "Megan Bowen and Adele Vance"
    assert shown[1:4] == ["Megan Bowen", "In a call", "“Design review until 3”"]
    assert "Adele Vance" in shown
    assert "Out of office: On leave until Monday" in shown
    assert any("out of office" in line.lower() for line in shown[shown.index("Adele Vance") :][:2])


async def test_who_alone_in_a_group_chat_shows_its_members_up_to_the_limit(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    shown = await ask(http, colleagues_bot, connector, "/who")
    assert shown[0] == "In this chat"
    names = [
        n for n in ("Alex Wilber", "Megan Bowen", "Adele Vance", "Isaiah Langer", "Lee Gu") if n in shown
    ]
    assert names == ["Alex Wilber", "Megan Bowen", "Adele Vance"], "at most PRESENCE_BOT_WHO_LIMIT (3)"
    assert any(line.startswith("…and") and "more" in line for line in shown), shown


async def test_a_roster_that_fails_gets_a_clear_card(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    connector.roster_fails[GROUP] = 403
    shown = await ask(http, colleagues_bot, connector, "/who")
    assert "I couldn't read who is in this chat" in " ".join(shown)


async def test_watch_sends_exactly_one_notice_when_the_colleague_goes_available(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    client = (
        await sim(
            http, bot, "POST", f"/users/{MEGAN}/clients", {"availability": "Busy", "activity": "InACall"}
        )
    ).json()["id"]
    shown = await ask(http, bot, connector, "/watch {}", MEGAN)
    assert shown[0] == "I'll tell you when Megan Bowen is free"
    before = len(connector.received)

    await sim(http, bot, "POST", f"/users/{MEGAN}/statusMessage", {"message": "Back at my desk"})
    watcher = bot.app[RUNTIME].services.watcher
    polls_before = len(watcher.recent_polls())
    await sim(
        http,
        bot,
        "PATCH",
        f"/users/{MEGAN}/clients/{client}",
        {"availability": "Available", "activity": "Available"},
    )
    # Sent by the first poll that read the change: the one after the change, or the one after that if a
    # poll was under way (within one interval and a poll).
    notices = await connector.wait_for(before + 1)
    fired: list[int] = []

    async def reported() -> bool:  # a poll's report is kept once its notices are handed over
        fired[:] = [poll.fired for poll in watcher.recent_polls()[polls_before:]]
        return any(fired)

    await eventually(reported, what="the report of the poll that sent the notice")
    assert 1 in fired[:2], fired
    notice = notices[before]
    assert notice["conversation"]["id"] == GROUP, "in the chat the watch was asked from"
    texts = card_texts(card_of(notice))
    assert texts[0] == "Megan Bowen is free"
    assert "Available" in texts and "“Back at my desk”" in texts
    chat = card_of(notice)["actions"][0]
    assert chat["type"] == "Action.OpenUrl" and chat["url"].endswith("users=megan.bowen@contoso.example")
    await watch_polls_over(bot)  # no poll left to send another, nothing on its way
    assert len(connector.received) == before + 1, "one notice, not one per poll"
    listed = await ask(http, bot, connector, "/watches")
    assert "Alex Wilber watches no one" in listed


async def test_watch_refuses_what_it_cannot_do(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    assert "Mention who to watch" in " ".join(await ask(http, bot, connector, "/watch"))
    assert "That's you" in " ".join(await ask(http, bot, connector, "/watch {}", ALEX))
    assert "another organization" in " ".join(await ask(http, bot, connector, "/watch {}", LEE))


async def test_free_already_needs_no_watch(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    await sim(
        http, bot, "POST", f"/users/{ISAIAH}/clients", {"availability": "Available", "activity": "Available"}
    )
    shown = await ask(http, bot, connector, "/watch {}", ISAIAH)
    assert shown[0] == "Isaiah Langer is free now"
    assert "Alex Wilber watches no one" in await ask(http, bot, connector, "/watches")


async def test_more_watches_than_the_cap_are_refused(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    connector.rosters[GROUP] = list(ROSTER)
    bot = await start_bot(make_settings(tmp_path / "data", colleagues={"watch_cap": 2}), "127.0.0.1", 0)
    try:
        for person in (MEGAN, ADELE, ISAIAH):  # in a call: not free (a new simulated user is Available)
            await sim(
                http, bot, "POST", f"/users/{person}/clients", {"availability": "Busy", "activity": "InACall"}
            )
        for person in (MEGAN, ADELE):
            assert (await ask(http, bot, connector, "/watch {}", person))[0].startswith("I'll tell you when")
        refused = " ".join(await ask(http, bot, connector, "/watch {}", ISAIAH))
        assert "You already watch 2 people" in refused
        # Asking again for someone already watched extends that watch, within the cap.
        again = await ask(http, bot, connector, "/watch {} for 2h", MEGAN)
        assert any(line.startswith("Still watching") for line in again), again
        stopped = await ask(http, bot, connector, "/unwatch all")
        assert stopped[:2] == ["Stopped watching Megan Bowen and Adele Vance.", "Alex Wilber watches no one"]
    finally:
        await bot.stop()


async def test_an_admin_can_turn_colleagues_off(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector
) -> None:
    connector.rosters[GROUP] = list(ROSTER)
    bot = await start_bot(make_settings(tmp_path / "data", colleagues={"enabled": False}), "127.0.0.1", 0)
    try:
        for text in ("/who {}", "/watch {}"):
            assert "turned off /who and /watch" in " ".join(await ask(http, bot, connector, text, MEGAN))
        help_text = " ".join(await ask(http, bot, connector, "/help"))
        assert "/who " not in help_text and "/watch" not in help_text
        assert connector.roster_requests == [], "nothing read about colleagues"
    finally:
        await bot.stop()


async def test_a_watch_that_reaches_its_end_says_so_once(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    await sim(http, bot, "POST", f"/users/{MEGAN}/clients", {"availability": "Busy", "activity": "InACall"})
    assert (await ask(http, bot, connector, "/watch {} for 1h", MEGAN))[
        0
    ] == "I'll tell you when Megan Bowen is free"
    before = len(connector.received)
    await sim(http, bot, "POST", "/clock", {"advance_seconds": 61 * 60})
    notice = card_texts(card_of((await connector.wait_for(before + 1))[before]))
    assert notice[0] == "Watch ended"
    assert notice[1].startswith("Megan Bowen wasn't free by ") and notice[1].endswith(
        "so I stopped watching."
    )
    await watch_polls_over(bot)
    assert len(connector.received) == before + 1
    assert "Alex Wilber watches no one" in await ask(http, bot, connector, "/watches")


async def test_the_emulator_has_no_roster_so_who_alone_says_to_mention_someone(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    reply = await say(
        http, colleagues_bot, connector, "/who", channelId="emulator", conversation={"id": "emulator-chat"}
    )
    assert "Mention whom to look up" in " ".join(card_texts(card_of(reply)))
    assert connector.roster_requests == [], "no roster call to a channel that has none"


async def test_who_is_free_shows_only_the_members_free_now(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    # Of the three members read (the limit), Alex and Adele are free (a new simulated user is
    # Available), Megan is in a call.
    await sim(http, bot, "POST", f"/users/{MEGAN}/clients", {"availability": "Busy", "activity": "InACall"})
    shown = await ask(http, bot, connector, "who is free?")
    assert shown[0] == "Free in this chat: 2 of 3"
    assert "Adele Vance" in shown and "Alex Wilber" in shown and "Megan Bowen" not in shown


async def test_in_a_group_chat_a_press_on_someone_elses_watch_card_keeps_it_theirs(
    http: httpx.AsyncClient, colleagues_bot: RunningBot, connector: Connector
) -> None:
    bot = colleagues_bot
    await sim(http, bot, "POST", f"/users/{MEGAN}/clients", {"availability": "Busy", "activity": "InACall"})
    alex_card = card_of(await say(http, bot, connector, **message("/watch {}", MEGAN)))
    stop = next(a for a in alex_card["actions"] if a["title"] == "Stop watching")
    assert stop["data"]["owner"] == ALEX
    # Adele presses "Stop watching" on Alex's card: it is Adele's (absent) watch that is stopped, never
    # Alex's; the shared card now lists Alex's watches, and Adele's answer comes as a message of her own.
    before = len(connector.received)
    press = activity(
        None,
        service_url=connector.url,
        kind="invoke",
        name="adaptiveCard/action",
        aad=ADELE,
        user_id=member(ADELE)["id"],
        user_name="Adele Vance",
        value={"action": {"type": "Action.Execute", "verb": "command", "data": stop["data"]}},
        conversation_type="groupChat",
        conversation_id=GROUP,
    )
    response = await http.post(f"{bot.url}/api/messages", json=press)
    assert response.status_code == 200, response.text
    shared = card_texts(response.json()["value"])
    assert shared[0] == "Alex Wilber watches 1 of at most 20 people"
    assert any(line.startswith("Megan Bowen: when free") for line in shared)
    adeles = card_texts(card_of((await connector.wait_for(before + 1))[before]))
    assert adeles[:2] == ["You weren't watching them.", "Adele Vance watches no one"]
