"""One contract for the presence service's hold port (`HoldPort`: `changes`, `active`, `begin`, `cancel`),
run against every implementation the tests use, so the hand-written fake cannot drift from the real thing:

- `FakeHolds` (tests/support/fake_holds.py), which the service tests run on;
- the real `HoldKeeper` on the store, on SQLite and on PostgreSQL (the `store` fixture).

Each case states what a user would notice: what `/presence` says the bot holds and until when, that a
newer command replaces or ends the hold and why, where its notices go, that a failed command keeps the
audit of what it sent, and that a redelivered activity is not carried out twice. A suite class per
implementation inherits the cases (`HoldContract`) and provides the `port` fixture, as
tests/graph/test_port_contract.py does for Graph.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import AdjustableClock
from bot.core.states import STATES, Layer, State
from bot.core.users import UserRef
from bot.graph.models import Presence
from bot.presence.holds import HoldKeeper
from bot.presence.locks import UserLocks
from bot.presence.ports import HeldState, HoldPort
from bot.store import Store
from bot.store.effects import TurnUnit
from bot.store.records import Effects, HoldStatus
from bot.store.timers import TimerService
from tests.support.fake_holds import FakeHolds
from tests.support.fakes import FakeGraph
from tests.support.store import list_audit, list_holds

ALEX = UserRef(user_id="alex", tenant_id="tenant-1", name="Alex")
MEGAN = UserRef(user_id="megan", tenant_id="tenant-1", name="Megan")
SHOWN = Presence(availability="Available", activity="Available")
HOUR = timedelta(hours=1)


@dataclass
class Port:
    """One implementation of the port, and how a test reads what it left behind."""

    holds: HoldPort
    now: Callable[[], datetime]
    ended: Callable[[UserRef], Awaitable[list[tuple[HoldStatus, str]]]]  # oldest first: (status, reason)
    audit: Callable[[UserRef], Awaitable[list[tuple[str, str]]]]  # oldest first: (operation, outcome)
    processed: Callable[[str], Awaitable[bool]]  # the activity is marked: a redelivery is skipped
    notifies_in: Callable[[UserRef], Awaitable[str | None]]  # the active hold's conversation


async def held(port: Port, user: UserRef) -> HeldState | None:
    async with port.holds.changes(user, None) as changes:
        return await port.holds.active(changes)


def hold(
    port: Port, changes: Effects, state: State, end: datetime, *, expires: datetime | None = None
) -> None:
    port.holds.begin(changes, STATES[state], requested_end=end, graph_expires_at=expires, observed=SHOWN)


async def write(changes: Effects, operation: str, outcome: str = "ok", status: int = 200) -> None:
    """What the Graph client does with each write it sends, when a command hands it its unit."""
    await changes.record_write(
        user_id=changes.user.user_id,
        tenant_id=changes.user.tenant_id,
        operation=operation,
        request={},
        status=status,
        code=outcome,
    )


class HoldContract:
    """The cases; a subclass provides the `port` fixture."""

    async def test_nothing_is_held_at_first(self, port: Port) -> None:
        assert await held(port, ALEX) is None

    async def test_a_hold_shows_its_state_layer_and_end_once_its_command_commits(self, port: Port) -> None:
        end = port.now() + 6 * HOUR
        async with port.holds.changes(ALEX, None) as changes:
            hold(port, changes, State.BUSY, end, expires=port.now() + 4 * HOUR)
            assert await port.holds.active(changes) is None, "not before the command's unit commits"
        assert await held(port, ALEX) == HeldState(State.BUSY, Layer.SESSION, end)
        assert await held(port, MEGAN) is None, "a hold is its user's alone"

    async def test_a_newer_state_replaces_the_hold_even_on_the_other_layer(self, port: Port) -> None:
        async with port.holds.changes(ALEX, None) as changes:
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        end = port.now() + 2 * HOUR
        async with port.holds.changes(ALEX, None) as changes:
            hold(port, changes, State.DND, end)
        assert await held(port, ALEX) == HeldState(State.DND, Layer.PREFERRED, end)
        assert await port.ended(ALEX) == [(HoldStatus.CANCELLED, "replaced by a newer command")]

    async def test_holding_the_same_state_again_moves_its_end(self, port: Port) -> None:
        """/extend: one hold, ending later (the one before it ends as replaced)."""
        async with port.holds.changes(ALEX, None) as changes:
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        later = port.now() + 90 * timedelta(minutes=1)
        async with port.holds.changes(ALEX, None) as changes:
            hold(port, changes, State.BUSY, later, expires=later)
        assert await held(port, ALEX) == HeldState(State.BUSY, Layer.SESSION, later)
        assert len(await port.ended(ALEX)) == 1

    async def test_a_cancel_ends_the_hold_with_its_reason(self, port: Port) -> None:
        async with port.holds.changes(ALEX, None) as changes:
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        async with port.holds.changes(ALEX, None) as changes:
            port.holds.cancel(changes, "cleared with /clear")
            assert await port.holds.active(changes) is not None, "not before the command's unit commits"
        assert await held(port, ALEX) is None
        assert await port.ended(ALEX) == [(HoldStatus.CANCELLED, "cleared with /clear")]

    async def test_a_cancel_with_nothing_held_ends_nothing(self, port: Port) -> None:
        async with port.holds.changes(ALEX, None) as changes:
            port.holds.cancel(changes, "reset with /reset")
        assert await held(port, ALEX) is None
        assert await port.ended(ALEX) == []

    async def test_a_holds_notices_go_to_the_conversation_it_was_set_in(self, port: Port) -> None:
        async with port.holds.changes(ALEX, TurnUnit(conversation_id="19:group")) as changes:
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        assert await port.notifies_in(ALEX) == "19:group"
        async with port.holds.changes(ALEX, None) as changes:  # set outside a turn: no conversation
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        assert await port.notifies_in(ALEX) is None

    async def test_the_audit_of_a_commands_writes_is_kept_with_its_hold(self, port: Port) -> None:
        async with port.holds.changes(ALEX, None) as changes:
            await write(changes, "set_presence")
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        assert await port.audit(ALEX) == [("set_presence", "ok")]

    async def test_a_failed_command_still_keeps_the_audit_of_what_it_sent(self, port: Port) -> None:
        with pytest.raises(RuntimeError):
            async with port.holds.changes(ALEX, None) as changes:
                await write(changes, "clear_presence", "NotFound", 404)
                await write(changes, "clear_preferred_presence", "Timeout", 504)
                raise RuntimeError("Graph timed out")
        assert await port.audit(ALEX) == [
            ("clear_presence", "NotFound"),
            ("clear_preferred_presence", "Timeout"),
        ]
        assert await held(port, ALEX) is None

    async def test_a_unit_writes_the_audit_of_its_own_user_only(self, port: Port) -> None:
        async with port.holds.changes(ALEX, None) as changes:
            with pytest.raises(ValueError):
                await changes.record_write(
                    user_id=MEGAN.user_id,
                    tenant_id=MEGAN.tenant_id,
                    operation="x",
                    request={},
                    status=200,
                    code="ok",
                )
        assert await port.audit(MEGAN) == [] and await port.audit(ALEX) == []

    async def test_the_turns_activity_is_marked_processed_with_its_outcome(self, port: Port) -> None:
        unit = TurnUnit(conversation_id="a:chat", activity_key="msteams|a:chat|1")
        assert not await port.processed("msteams|a:chat|1")
        async with port.holds.changes(ALEX, unit) as changes:
            hold(port, changes, State.BUSY, port.now() + HOUR, expires=port.now() + HOUR)
        assert await port.processed("msteams|a:chat|1"), "a redelivery of it is not carried out again"
        assert unit.pending_mark is None, "the turn needs no mark of its own"
        async with port.holds.changes(ALEX, unit) as changes:  # the turn's second command (the picker's)
            port.holds.cancel(changes, "cleared with /clear")
        assert await port.processed("msteams|a:chat|1") and await held(port, ALEX) is None

    async def test_a_failed_command_marks_its_activity_too(self, port: Port) -> None:
        """Its error card was the answer: a redelivery does not send the writes again."""
        unit = TurnUnit(activity_key="msteams|a:chat|2")
        with pytest.raises(RuntimeError):
            async with port.holds.changes(ALEX, unit):
                raise RuntimeError("Graph timed out")
        assert await port.processed("msteams|a:chat|2") and unit.pending_mark is None

    async def test_a_unit_with_nothing_to_write_marks_nothing(self, port: Port) -> None:
        unit = TurnUnit(conversation_id="a:chat")
        async with port.holds.changes(ALEX, unit) as changes:
            assert await port.holds.active(changes) is None
        assert not unit.marked and await port.audit(ALEX) == []


# -- the implementations -----------------------------------------------------------------------------------
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


class TestFakeHolds(HoldContract):
    @pytest.fixture
    def port(self) -> Port:
        holds = FakeHolds()

        async def ended(user: UserRef) -> list[tuple[HoldStatus, str]]:
            return list(holds.ended.get(user.key, []))

        async def audit(user: UserRef) -> list[tuple[str, str]]:
            return [(row.operation, row.outcome) for row in holds.audit.get(user.key, [])]

        async def processed(key: str) -> bool:
            return key in holds.processed

        async def notifies_in(user: UserRef) -> str | None:
            return holds.notify_in.get(user.key)

        return Port(holds, lambda: NOW, ended, audit, processed, notifies_in)


class _Silent:
    async def notify(self, *args: object, **kwargs: object) -> bool:
        return True


class TestHoldKeeperOnTheStore(HoldContract):
    @pytest.fixture
    def port(self, store: Store, store_clock: AdjustableClock) -> Port:
        keeper = HoldKeeper(
            store, FakeGraph(), store_clock, session_id="app", notifier=_Silent(), locks=UserLocks()
        )

        async def fire(timer: object) -> None:
            raise AssertionError("no timer fires in the contract")

        keeper.attach(TimerService(store, store_clock, fire, owner="contract"))  # never started

        async def ended(user: UserRef) -> list[tuple[HoldStatus, str]]:
            past = [hold for hold in reversed(await list_holds(store, user)) if not hold.is_active]
            return [(hold.status, hold.ended_reason or "") for hold in past]

        async def audit(user: UserRef) -> list[tuple[str, str]]:
            return [(entry.operation, entry.outcome) for entry in reversed(await list_audit(store, user))]

        async def processed(key: str) -> bool:
            record = await store.record_turn(ALEX, activity_key=key, conversation=None, reported_zone=None)
            return not record.fresh

        async def notifies_in(user: UserRef) -> str | None:
            active = await store.get_active_hold(user)
            return active.conversation_id if active is not None else None

        return Port(keeper, store_clock.now, ended, audit, processed, notifies_in)
