"""Presence Bot behind the Microsoft 365 Agents Playground, the offline stand-in for Teams.

The Playground sends the bot what Teams would (messages in a personal chat, a group chat with an
@mention and a channel post; `adaptiveCard/action` invokes when a card's button is pressed; the install
activities) and shows what comes back. Each test starts the real bot (`presence-bot serve`, its simulated
tenant in a temporary folder) and the Playground pointed at it, on free loopback ports
(tests/support/playground.py).

Without a browser the tests use the Playground's own API; the last one drives its web UI in headless
Chromium and saves docs/playground-busy.png and docs/playground-updated.png.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import ensure_chromium
from tests.support.nodejs import run_node
from tests.support.playground import (
    CARD,
    BotMessage,
    Playground,
    PlaygroundClient,
    card_texts,
    headline,
    running_playground,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
IN_A_CALL = {"availability": "Busy", "activity": "InACall"}
DND = {"availability": "DoNotDisturb", "activity": "DoNotDisturb"}


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[Playground]:
    with running_playground(tmp_path / "playground") as running:
        yield running


def pair(presence: dict[str, Any]) -> dict[str, str]:
    return {"availability": presence["availability"], "activity": presence["activity"]}


async def press_and_check(
    client: PlaygroundClient, card: BotMessage, presser: dict[str, Any]
) -> dict[str, Any]:
    """Press "Do not disturb 1h" as `presser`: the invoke answers with the updated card, and the
    presser's presence in the simulated tenant is Do not disturb."""
    answer = await client.press(card, "Do not disturb 1h", as_user=presser)
    assert answer["type"] == CARD
    updated = answer["value"]
    assert headline(updated)[0] == "Do not disturb"
    assert card_texts(updated)[0] == presser["name"]
    assert any(text.startswith("Set until ") for text in card_texts(updated))
    # The buttons now fit Do not disturb: the likeliest next states, then Extend and End now.
    assert [action["title"] for action in updated["actions"]][:4] == [
        "Busy 30m",
        "Available",
        "Extend 30 min",
        "End now",
    ]
    assert pair(await client.presence_of(presser)) == DND
    return dict(updated)


async def test_personal_chat_busy_then_a_button_updates_the_card_and_the_presence(
    playground: Playground,
) -> None:
    async with PlaygroundClient(playground) as client:
        me = client.me
        sent = await client.send(client.personal_chat, "/busy 30m")
        reply = await client.next_card(sent)

        assert headline(reply.card)[0] == "In a call"
        assert any(text.startswith("Set until ") for text in card_texts(reply.card))
        assert card_texts(reply.card)[0] == me["name"]
        assert pair(await client.presence_of(me)) == IN_A_CALL
        # In a personal chat the card asks Teams to refresh it for its one viewer (by Teams user id).
        assert (reply.card or {})["refresh"]["userIds"] == [me["id"]]

        updated = await press_and_check(client, reply, me)
        assert updated["refresh"]["userIds"] == [me["id"]]


async def press_on_someone_elses_card(
    client: PlaygroundClient, card: BotMessage, presser: dict[str, Any], owner: dict[str, Any]
) -> None:
    """In a shared chat, `presser` presses "Do not disturb 1h" on `owner`'s card: the invoke answers
    with the owner's card, refreshed (everyone keeps seeing its owner), the presser's own result comes
    as a message of their own in the same thread, and only the presser's presence changes."""
    mark = len(client.messages)
    answer = await client.press(card, "Do not disturb 1h", as_user=presser)
    assert answer["type"] == CARD
    shared = answer["value"]
    assert card_texts(shared)[0] == owner["name"]
    assert headline(shared)[0] == "In a call"
    mine = await client.card_in(card.conversation_id, since=mark)
    assert card_texts(mine.card)[0] == presser["name"]
    assert headline(mine.card)[0] == "Do not disturb"
    assert pair(await client.presence_of(presser)) == DND
    assert pair(await client.presence_of(owner)) == IN_A_CALL


async def test_group_chat_mention_and_a_button_pressed_by_someone_else(playground: Playground) -> None:
    async with PlaygroundClient(playground) as client:
        me, megan = client.me, client.user("Megan Bowen")
        sent = await client.send(client.group_chat, "/busy 30m", mention_bot=True)
        reply = await client.next_card(sent)

        assert reply.conversation_id == client.group_chat
        assert headline(reply.card)[0] == "In a call"
        assert pair(await client.presence_of(me)) == IN_A_CALL
        assert "refresh" not in (reply.card or {})  # a shared card: no per-user refresh

        # Megan presses a button on Alex's card: it is Megan's presence that changes, not Alex's.
        await press_on_someone_elses_card(client, reply, megan, me)


async def test_who_in_a_group_chat_shows_its_members_and_a_mentioned_colleague(
    playground: Playground,
) -> None:
    """The Playground answers the roster from its own config: /who alone lists the chat's members with
    the simulated tenant's presence; /who @Megan shows Megan, whom the bot looked up by her mention."""
    async with PlaygroundClient(playground) as client:
        everyone = await client.next_card(await client.send(client.group_chat, "/who", mention_bot=True))
        shown = card_texts(everyone.card)
        assert shown[0] == "In this chat"
        assert {"Alex Wilber", "Megan Bowen", "Adele Vance"} <= set(shown), shown

        megan = client.user("Megan Bowen")
        sent = await client.send(client.group_chat, "/who {}", mention_bot=True, mentions=[megan])
        shown = card_texts((await client.next_card(sent)).card)
        assert shown[:3] == ["Megan Bowen", "Megan Bowen", "Available"], shown  # a signed-in simulated user


async def test_channel_post_with_mention_and_a_button(playground: Playground) -> None:
    async with PlaygroundClient(playground) as client:
        me, adele = client.me, client.user("Adele Vance")
        channel = client.channel("Announcements")
        sent = await client.send(channel, "/busy 30m", mention_bot=True)
        reply = await client.next_card(sent)

        assert sent.thread_id.startswith(f"{channel};messageid=")  # the bot answers in the post's thread
        assert reply.conversation_id == sent.thread_id
        assert headline(reply.card)[0] == "In a call"
        assert pair(await client.presence_of(me)) == IN_A_CALL

        await press_on_someone_elses_card(client, reply, adele, me)


async def test_install_welcomes_and_its_button_shows_the_presence(playground: Playground) -> None:
    async with PlaygroundClient(playground) as client:
        mark = await client.mock_activity(client.personal_chat, "botAdded")  # conversationUpdate
        welcome = await client.card_in(client.personal_chat, since=mark)

        assert card_texts(welcome.card)[0].startswith("Hi")
        assert "I'm Presence Bot" in card_texts(welcome.card)[0]

        answer = await client.press(welcome, "Show my presence", as_user=client.me)
        assert headline(answer["value"])[0] == "Available"  # a signed-in simulated user, untouched


def test_the_playground_web_ui_shows_the_card_and_updates_it_in_place(playground: Playground) -> None:
    ensure_chromium()
    busy, updated = DOCS / "playground-busy.png", DOCS / "playground-updated.png"
    failure = playground.work / "playground-ui-failure.png"
    result = run_node("playground-ui.mjs", playground.url, str(busy), str(updated), str(failure), timeout=150)
    assert result.returncode == 0, f"{result.stderr}\n{playground.logs()}"
    seen = json.loads(result.stdout)

    assert "In a call" in seen["busyText"]
    assert seen["busyIconWidth"] == 40, "Teams' red dot drawn beside the label (a 40 px PNG at 2x)"
    assert "Do not disturb 1h" in seen["busyText"]
    assert "Do not disturb" in seen["updatedText"]
    assert "Set until " in seen["updatedText"]
    # Updated in place: the same number of cards, and none of them still says In a call.
    assert seen["cardsAfter"] == seen["cardsBefore"]
    assert seen["inACallCardsAfter"] == 0
    assert seen["pageErrors"] == []
    # Only what the Playground's page asks of Microsoft's CDN (web fonts, an animation) left loopback,
    # and it was refused.
    assert all(url.startswith("https://res-1.cdn.office.net/") for url in seen["blocked"]), seen["blocked"]

    me = httpx.get(f"{playground.url}/_internal/v1/config", timeout=20).json()["config"]["currentUser"]
    state = httpx.get(f"{playground.bot_url}/sim/_sim/users/{me['aadObjectId']}", timeout=10).json()
    assert pair(state["presence"]) == DND
    for png in (busy, updated):
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_make_playground_stopped_with_sigterm_stops_the_bot_and_the_playground(tmp_path: Path) -> None:
    """`make playground`'s runner: SIGTERM (not only Ctrl-C) stops both child processes."""
    import signal
    import socket
    import subprocess
    import sys
    import time

    from bot.core.net import free_port
    from tests.support.playground import REPO

    bot_port, port = free_port(), free_port()
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.playground",
            "--bot-port",
            str(bot_port),
            "--port",
            str(port),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def listening(number: int) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", number)) == 0

    try:
        assert runner.stdout is not None
        seen = ""
        deadline = time.monotonic() + 120
        while "Ctrl-C stops both" not in seen:
            line = runner.stdout.readline()
            assert line or runner.poll() is None, seen
            seen += line
            assert time.monotonic() < deadline, seen
        assert listening(bot_port) and listening(port)
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) == 0, seen + runner.stdout.read()
        deadline = time.monotonic() + 20
        while (listening(bot_port) or listening(port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening(bot_port), "the bot still runs"
        assert not listening(port), "the Playground still runs"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()


def test_the_status_picker_works_end_to_end_in_the_playground_web_ui(playground: Playground) -> None:
    """The picker card, driven in Microsoft's local Teams client: pick Appear away for 30 minutes with a
    status message, Apply, and the simulated tenant shows it."""
    ensure_chromium()
    picker, applied = DOCS / "playground-picker.png", DOCS / "playground-picker-applied.png"
    failure = playground.work / "picker-ui-failure.png"
    result = run_node("picker-ui.mjs", playground.url, str(picker), str(applied), str(failure), timeout=150)
    assert result.returncode == 0, f"{result.stderr}\n{playground.logs()}"
    seen = json.loads(result.stdout)
    assert "Set your status" in seen["pickerText"] and "Availability" in seen["pickerText"]
    assert "Away" in seen["appliedText"] and "Out for lunch" in seen["appliedText"]
    assert seen["pageErrors"] == []

    me = httpx.get(f"{playground.url}/_internal/v1/config", timeout=20).json()["config"]["currentUser"]
    state = httpx.get(f"{playground.bot_url}/sim/_sim/users/{me['aadObjectId']}", timeout=10).json()
    assert pair(state["presence"]) == {"availability": "Away", "activity": "Away"}
    assert state["statusMessage"]["message"]["content"] == "Out for lunch"
