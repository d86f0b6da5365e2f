"""`TeamsNotifier` at the botbuilder edge: a notice goes through botbuilder's `continue_conversation`
to a local connector, and what the connector answers (429 with `Retry-After`, a gateway's 502 page,
403 `ConversationBlockedByUser`, no connector at all) is read right and acted on."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bot.clock import AdjustableClock
from bot.core.users import UserRef
from bot.store.records import SavedConversation
from bot.teams.notices import TeamsNotifier
from bot.teams.sender import SendPolicy
from tests.support.connector import Connector
from tests.support.fakes import FakePeople
from tests.support.waiting import eventually

ALEX = UserRef(user_id="alex", tenant_id="tenant-1", name="Alex")


class _Config:
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


async def reachable(service_url: str) -> FakePeople:
    """Alex, who wrote to the bot in their 1:1 chat, "chat-alex" (Teams there: the local connector)."""
    people = FakePeople()
    reference: dict[str, Any] = {
        "serviceUrl": service_url,
        "channelId": "msteams",
        "conversation": {"id": "chat-alex", "conversationType": "personal"},
        "bot": {"id": "bot"},
        "user": {"id": ALEX.user_id},
    }
    here = SavedConversation("chat-alex", "personal", reference)
    await people.record_turn(ALEX, activity_key=None, conversation=here, reported_zone=None)
    return people


def notifier(store: FakePeople, **policy: Any) -> TeamsNotifier:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_Config()))
    return TeamsNotifier(
        lambda: adapter,
        store,
        AdjustableClock(),
        app_id="",
        default_time_zone="UTC",
        policy=SendPolicy(**policy),
    )


async def sent(teams: TeamsNotifier) -> None:
    await eventually(lambda: _idle(teams), seconds=20, what="the notice queue emptying")


async def _idle(teams: TeamsNotifier) -> bool:
    return teams.sender.pending == 0


async def test_a_429_is_retried_after_what_retry_after_says(connector: Connector) -> None:
    connector.throttle["chat-alex"] = 1
    connector.retry_after = "1"
    teams = notifier(await reachable(connector.url))
    assert await teams.notify(ALEX, "Your Busy has ended", "Teams shows you as Available.", None)
    await sent(teams)
    statuses = [attempt.status for attempt in connector.attempts]
    assert statuses == [429, 200]
    assert connector.attempts[1].at - connector.attempts[0].at >= 1.0
    assert len(connector.received) == 1
    await teams.close()


async def test_a_gateways_502_page_is_read_as_a_502_and_retried(connector: Connector) -> None:
    connector.fail["chat-alex"] = [502, 504]
    teams = notifier(await reachable(connector.url), backoff_base=0.05)
    await teams.notify(ALEX, "Your Busy has ended", "Teams shows you as Available.", None)
    await sent(teams)
    assert [attempt.status for attempt in connector.attempts] == [502, 504, 200]
    assert teams.sender.stats()["retried"] == 2
    await teams.close()


async def test_a_403_forgets_the_conversation(connector: Connector, caplog: pytest.LogCaptureFixture) -> None:
    connector.blocked.add("chat-alex")
    store = await reachable(connector.url)
    teams = notifier(store)
    with caplog.at_level(logging.WARNING):
        await teams.notify(ALEX, "Your Busy has ended", "Teams shows you as Available.", None)
        await teams.notify(ALEX, "Your Away has ended", "Teams shows you as Available.", None)
        await sent(teams)
    assert [attempt.status for attempt in connector.attempts] == [403]  # the second is never sent
    assert store.forgotten == [(ALEX, "chat-alex", False, False)]
    assert "HTTP 403 ConversationBlockedByUser" in caplog.text
    assert teams.sender.stats()["dropped"] == 1
    await teams.close()


async def test_no_connector_is_a_connection_failure(caplog: pytest.LogCaptureFixture) -> None:
    teams = notifier(await reachable("http://127.0.0.1:9"), attempts=1)
    with caplog.at_level(logging.WARNING, logger="bot.teams.sender"):
        await teams.notify(ALEX, "Your Busy has ended", "Teams shows you as Available.", None)
        await sent(teams)
    assert "given up after 1 tries: connection failed" in caplog.text
    await teams.close()


async def test_uninstall_forgets_the_users_personal_chats_and_drops_what_is_queued(
    connector: Connector,
) -> None:
    connector.throttle["chat-alex"] = 1
    connector.retry_after = "2"
    store = await reachable(connector.url)
    teams = notifier(store)
    await teams.notify(ALEX, "Your Busy has ended", "Teams shows you as Available.", None)
    await eventually(lambda: _tried(connector), what="the first try")
    await teams.forget(ALEX, "chat-alex", personal=True)  # while the notice waits out its 429
    await sent(teams)
    assert [attempt.status for attempt in connector.attempts] == [429]
    assert store.forgotten == [(ALEX, "chat-alex", True, False)]
    await teams.close()


async def _tried(connector: Connector) -> bool:
    return bool(connector.attempts)
