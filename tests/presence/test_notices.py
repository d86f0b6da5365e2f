"""Proactive notices at scale and after uninstall, end to end: the real app, its timers on the simulated
clock, and a local connector that answers as Teams does (429 with `Retry-After`, 403
`ConversationBlockedByUser`) and records when every request arrived."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict

import httpx
import pytest

from bot.app import RUNTIME
from bot.core.users import UserRef
from bot.server import RunningBot
from bot.teams.sender import TEAMS_CONVERSATION_LIMITS
from tests.support.builders import ALEX, TENANT, activity
from tests.support.connector import Connector, busiest
from tests.support.e2e import advance, card_of, notices, presence_is, say, texts
from tests.support.timers import settle
from tests.support.waiting import eventually

USERS = 300
GROUP = range(0, 20)  # these users talk to the bot in one group chat: their notices all go there
BLOCKED = range(20, 30)  # these users blocked the bot in their chat
THROTTLED = range(30, 60)  # Teams answers these chats' first try with a 429
GROUP_CHAT = "19:group-chat@thread.v2"


def user_id(index: int) -> str:
    return f"00000000-0000-0000-0000-{index:012d}"


def chat(index: int) -> str:
    return GROUP_CHAT if index in GROUP else f"a:chat-{index}"


async def test_300_holds_ending_together_are_paced_retried_and_skip_blocked_chats(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    runtime = bot.app[RUNTIME]
    gate = asyncio.Semaphore(16)

    async def busy(index: int) -> None:
        body = activity(
            "/busy 30m",
            service_url=connector.url,
            user_id=f"29:user-{index}",
            aad=user_id(index),
            user_name=f"User {index}",
            conversation_type="groupChat" if index in GROUP else "personal",
            conversation_id=chat(index),
        )
        async with gate:
            response = await http.post(f"{bot.url}/api/messages", json=body)
        assert response.status_code in (200, 201), response.text

    await asyncio.gather(*(busy(index) for index in range(USERS)))
    await eventually(lambda: asyncio.sleep(0, result=len(connector.received) >= USERS), seconds=30)
    replies = len(connector.received)
    for index in BLOCKED:
        connector.blocked.add(chat(index))
    for index in THROTTLED:
        connector.throttle[chat(index)] = 1
    connector.retry_after = "1"
    first = len(connector.attempts)

    started = time.monotonic()
    await advance(http, bot, minutes=31)  # every hold ends in the same minute
    expected = USERS - len(BLOCKED)
    await eventually(
        lambda: asyncio.sleep(0, result=len(connector.received) - replies >= expected),
        seconds=60,
        what="a notice for every hold whose chat is open",
    )
    await settle(bot, seconds=60)
    took = time.monotonic() - started

    sent = connector.received[replies:]
    assert len(sent) == expected  # none lost, none twice
    per_chat = Counter(message["_conversation_id"] for message in sent)
    assert per_chat[GROUP_CHAT] == len(GROUP)
    assert all(
        per_chat[chat(index)] == 1 for index in range(USERS) if index not in GROUP and index not in BLOCKED
    )
    assert all("has ended" in texts(card_of(message)) for message in sent)

    attempts = connector.attempts[first:]
    arrivals: dict[str, list[float]] = defaultdict(list)
    for attempt in attempts:
        arrivals[attempt.conversation_id].append(attempt.at)
    tenant_peak = busiest((attempt.at for attempt in attempts), 1.0)
    chat_peaks = {
        window: max(busiest(times, window) for times in arrivals.values())
        for _, window in TEAMS_CONVERSATION_LIMITS
    }
    assert tenant_peak <= 50, tenant_peak
    for limit, window in TEAMS_CONVERSATION_LIMITS:
        assert chat_peaks[window] <= limit, (window, chat_peaks[window])

    # Every 429 was retried, once, after Retry-After, and then delivered.
    for index in THROTTLED:
        tries = [attempt for attempt in attempts if attempt.conversation_id == chat(index)]
        assert [attempt.status for attempt in tries] == [429, 200]
        assert tries[1].at - tries[0].at >= 1.0

    # A blocked chat got one try, no notice after its 403, and its reference is gone.
    for index in BLOCKED:
        statuses = [attempt.status for attempt in attempts if attempt.conversation_id == chat(index)]
        assert statuses == [403]
        user = UserRef(user_id=user_id(index), tenant_id=TENANT)
        assert await runtime.services.store.latest_conversation_reference(user) is None
    assert (
        await runtime.services.store.counts()
    ).active_holds == 0  # every hold ended on Graph, blocked or not

    stats = runtime.services.notifier.sender.stats()
    assert stats["sent"] == expected and stats["gone"] == len(BLOCKED) and stats["gaveUp"] == 0
    assert stats["retried"] == len(THROTTLED)
    print(
        f"\n{USERS} holds ending together: {expected} notices in {took:.1f} s, "
        f"busiest second {tenant_peak} (tenant), busiest chat {chat_peaks[1.0]}/1 s {chat_peaks[2.0]}/2 s, "
        f"{len(THROTTLED)} 429s retried, {len(BLOCKED)} 403s, 0 sent after a 403"
    )


@pytest.mark.parametrize("action", ["remove", "remove-upgrade"])
async def test_uninstall_forgets_the_chat_and_the_hold_still_ends_without_a_notice(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, action: str
) -> None:
    runtime = bot.app[RUNTIME]
    alex = UserRef(user_id=ALEX, tenant_id=TENANT)
    await say(http, bot, connector, "/busy 30m")
    assert await runtime.services.store.latest_conversation_reference(alex) is not None

    body = activity(None, service_url=connector.url, kind="installationUpdate", action=action)
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code in (200, 201), response.text
    assert await runtime.services.store.latest_conversation_reference(alex) is None

    await advance(http, bot, minutes=31)
    await settle(bot)
    assert await presence_is(http, bot, "Available", "Available")  # the hold ended on Graph
    assert await runtime.services.store.get_active_hold(alex) is None
    assert notices(connector) == []

    # Installed again: the next message saves a new reference, and notices go there.
    await say(http, bot, connector, "/busy 30m", conversation_id="a:new-chat")
    await advance(http, bot, minutes=31)
    await settle(bot)
    sent = notices(connector)
    assert [message["_conversation_id"] for message in sent] == ["a:new-chat"]


async def test_an_installation_update_that_adds_forgets_nothing(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    runtime = bot.app[RUNTIME]
    await say(http, bot, connector, "/busy 30m")
    body = activity(None, service_url=connector.url, kind="installationUpdate", action="add")
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code in (200, 201), response.text
    assert await runtime.services.store.latest_conversation_reference(UserRef(user_id=ALEX, tenant_id=TENANT))
