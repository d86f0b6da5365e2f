"""One contract for what proactive notices read and forget (`NoticeStore`: `get_user`,
`latest_conversation_reference`, `conversation_reference`, `forget_conversation`), run against every
implementation the tests use, so the hand-written fake cannot drift from the real thing:

- `FakePeople` (tests/support/fakes.py), which tests/teams/test_notices.py runs on;
- the real `Store`, on SQLite and on PostgreSQL (the `store` fixture).

How to reach someone is saved by their turns (`record_turn`, the ledger's contract), so the cases save
conversations that way. Each states what a user would notice: a notice reaches them where they last wrote
to the bot (or in the conversation asked for, or their 1:1 chat), not at all with notices off, and never
again in a conversation the bot was removed from or blocked in. A suite class per implementation inherits
the cases (`NoticeContract`) and provides the `port` fixture, as tests/graph/test_port_contract.py does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import pytest

from bot.clock import AdjustableClock
from bot.core.users import UserRef
from bot.store import Store
from bot.store.records import SavedConversation
from bot.teams.notices import NoticeStore
from bot.turns.steps import TurnLedger
from tests.support.fakes import FakePeople

ALEX = UserRef(user_id="aad-alex", tenant_id="tenant-1", name="Alex")
MEGAN = UserRef(user_id="aad-megan", tenant_id="tenant-1", name="Megan")
STRANGER = UserRef(user_id="aad-alex", tenant_id="tenant-2", name="Alex elsewhere")


class People(NoticeStore, TurnLedger, Protocol):
    """The store's people: saved by turns, read by notices."""


@dataclass
class Port:
    people: People
    notices_off: Callable[[UserRef], Awaitable[object]]  # /notify off
    clock: AdjustableClock


def chat(conversation_id: str, kind: str = "personal") -> SavedConversation:
    reference = {"conversation": {"id": conversation_id, "conversationType": kind}, "serviceUrl": "http://x"}
    return SavedConversation(conversation_id, kind, reference)


async def wrote(port: Port, user: UserRef, where: SavedConversation) -> None:
    """The user wrote to the bot there (a minute after their previous message)."""
    port.clock.advance(60)
    await port.people.record_turn(user, activity_key=None, conversation=where, reported_zone=None)


async def latest(port: Port, user: UserRef, kind: str | None = None) -> str | None:
    found = await port.people.latest_conversation_reference(user, conversation_type=kind)
    return found.conversation_id if found is not None else None


class NoticeContract:
    """The cases; a subclass provides the `port` fixture."""

    async def test_someone_who_never_wrote_cannot_be_reached(self, port: Port) -> None:
        assert await port.people.get_user(ALEX) is None
        assert await latest(port, ALEX) is None
        assert await port.people.conversation_reference(ALEX, "a:chat") is None

    async def test_a_notice_reaches_the_user_where_they_wrote(self, port: Port) -> None:
        await wrote(port, ALEX, chat("a:chat"))
        found = await port.people.conversation_reference(ALEX, "a:chat")
        assert found is not None
        assert (found.user_id, found.tenant_id, found.conversation_type) == (
            ALEX.user_id,
            "tenant-1",
            "personal",
        )
        assert found.reference == chat("a:chat").reference
        assert await latest(port, ALEX) == "a:chat"
        assert await latest(port, MEGAN) is None and await latest(port, STRANGER) is None, "their own only"

    async def test_the_latest_conversation_is_the_one_last_written_in(self, port: Port) -> None:
        await wrote(port, ALEX, chat("a:chat"))
        await wrote(port, ALEX, chat("19:group", "groupChat"))
        assert await latest(port, ALEX) == "19:group"
        assert await latest(port, ALEX, "personal") == "a:chat", "their 1:1 chat, for a notice with no place"
        await wrote(port, ALEX, chat("a:chat"))
        assert await latest(port, ALEX) == "a:chat"
        assert await port.people.conversation_reference(ALEX, "19:group") is not None, "both are kept"

    async def test_notices_off_is_read_back(self, port: Port) -> None:
        await wrote(port, ALEX, chat("a:chat"))
        await port.notices_off(ALEX)
        settings = await port.people.get_user(ALEX)
        assert settings is not None and not settings.notices_enabled

    async def test_a_conversation_blocked_for_one_user_is_forgotten_for_them_only(self, port: Port) -> None:
        await wrote(port, ALEX, chat("19:group", "groupChat"))
        await wrote(port, MEGAN, chat("19:group", "groupChat"))
        assert await port.people.forget_conversation(ALEX, "19:group") == 1
        assert await port.people.conversation_reference(ALEX, "19:group") is None
        assert await latest(port, ALEX) is None
        assert await port.people.conversation_reference(MEGAN, "19:group") is not None

    async def test_the_bot_removed_from_a_group_forgets_it_for_everyone_in_the_tenant(
        self, port: Port
    ) -> None:
        await wrote(port, ALEX, chat("19:group", "groupChat"))
        await wrote(port, MEGAN, chat("19:group", "groupChat"))
        await wrote(port, STRANGER, chat("19:group", "groupChat"))
        await wrote(port, MEGAN, chat("a:megan"))
        assert await port.people.forget_conversation(ALEX, "19:group", everyone=True) == 2
        assert await latest(port, ALEX) is None and await latest(port, MEGAN) == "a:megan"
        assert await latest(port, STRANGER) == "19:group", "another tenant's conversation is another one"

    async def test_uninstalling_the_app_forgets_every_personal_chat_of_the_user(self, port: Port) -> None:
        await wrote(port, ALEX, chat("a:chat"))
        await wrote(port, ALEX, chat("a:chat-2"))
        await wrote(port, ALEX, chat("19:group", "groupChat"))
        await wrote(port, MEGAN, chat("a:megan"))
        assert await port.people.forget_conversation(ALEX, None, personal=True) == 2
        assert await latest(port, ALEX, "personal") is None
        assert await latest(port, ALEX) == "19:group" and await latest(port, MEGAN) == "a:megan"
        assert await port.people.forget_conversation(ALEX, None) == 0, "nothing named, nothing forgotten"

    async def test_written_in_again_after_being_forgotten_it_is_reached_again(self, port: Port) -> None:
        await wrote(port, ALEX, chat("a:chat"))
        await port.people.forget_conversation(ALEX, "a:chat")
        await wrote(port, ALEX, chat("a:chat"))
        assert await latest(port, ALEX) == "a:chat"


# -- the implementations -----------------------------------------------------------------------------------
class TestFakePeople(NoticeContract):
    @pytest.fixture
    def port(self) -> Port:
        clock = AdjustableClock()
        people = FakePeople(clock)
        return Port(people, lambda user: people.set_notices_enabled(user, False), clock)


class TestStore(NoticeContract):
    @pytest.fixture
    def port(self, store: Store, store_clock: AdjustableClock) -> Port:
        return Port(store, lambda user: store.set_notices_enabled(user, False), store_clock)
