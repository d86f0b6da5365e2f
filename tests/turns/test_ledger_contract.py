"""One contract for the pipeline's turn ledger (`TurnLedger`: `record_turn`, `mark_done`), run against every
implementation the tests use, so the hand-written fake cannot drift from the real thing:

- `FakePeople` (tests/support/fakes.py), which the pipeline's step tests run on;
- the real `Store`, on SQLite and on PostgreSQL (the `store` fixture).

Each case states what a user would notice: an activity the channel delivers again is carried out once
its work was done, and again when it was cut short; the zone Teams reports is used for "until 5pm" unless
the user chose one. A suite class per implementation inherits the cases (`LedgerContract`) and provides the
`port` fixture, as tests/graph/test_port_contract.py does for Graph.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from bot.clock import AdjustableClock
from bot.core.users import UserRef
from bot.store import Store
from bot.store.records import SavedConversation, TurnRecord
from bot.turns.steps import TurnLedger
from tests.support.fakes import FakePeople

ALEX = UserRef(user_id="aad-alex", tenant_id="tenant-1", name="Alex")
MEGAN = UserRef(user_id="aad-megan", tenant_id="tenant-1", name="Megan")
HERE = SavedConversation("a:chat", "personal", {"conversation": {"id": "a:chat"}, "serviceUrl": "http://x"})


@dataclass
class Port:
    ledger: TurnLedger
    choose_zone: Callable[[UserRef, str | None], Awaitable[object]]  # /timezone
    clock: AdjustableClock


async def turn(port: Port, key: str | None, zone: str | None = None, user: UserRef = ALEX) -> TurnRecord:
    return await port.ledger.record_turn(user, activity_key=key, conversation=HERE, reported_zone=zone)


class LedgerContract:
    """The cases; a subclass provides the `port` fixture."""

    async def test_an_activity_is_carried_out_until_its_work_is_marked_done(self, port: Port) -> None:
        assert (await turn(port, "k1")).fresh
        assert (await turn(port, "k1")).fresh, "cut short before its mark: a redelivery carries it out"
        await port.ledger.mark_done(ALEX, "k1")
        assert await turn(port, "k1", "Asia/Tokyo") == TurnRecord(fresh=False, settings=None)
        assert (await turn(port, "k2")).fresh, "another activity is not affected"

    async def test_a_redelivery_changes_nothing(self, port: Port) -> None:
        await turn(port, "k1", "Europe/Berlin")
        await port.ledger.mark_done(ALEX, "k1")
        await turn(port, "k1", "Asia/Tokyo")
        record = await turn(port, "k2")
        assert record.settings is not None and record.settings.time_zone == "Europe/Berlin"

    async def test_an_activity_without_a_key_is_always_carried_out(self, port: Port) -> None:
        await port.ledger.mark_done(ALEX, "k1")
        assert (await turn(port, None)).fresh and (await turn(port, None)).fresh

    async def test_someone_new_has_no_settings(self, port: Port) -> None:
        assert (await turn(port, "k1")).settings is None

    async def test_the_zone_teams_reports_is_kept_and_read_back(self, port: Port) -> None:
        first = await turn(port, "k1", "Europe/Berlin")
        assert first.settings is not None
        assert (first.settings.time_zone, first.settings.time_zone_explicit) == ("Europe/Berlin", False)
        assert first.settings.notices_enabled and first.settings.user_id == ALEX.user_id
        assert first.settings.tenant_id == ALEX.tenant_id
        quiet = await turn(port, "k2")  # a turn that reports no zone keeps the one known
        assert quiet.settings is not None and quiet.settings.time_zone == "Europe/Berlin"
        port.clock.advance(60)
        moved = await turn(port, "k3", "Asia/Tokyo")
        assert moved.settings is not None and moved.settings.time_zone == "Asia/Tokyo"
        assert (await turn(port, "k4", user=MEGAN)).settings is None, "a user's settings are their own"

    async def test_a_zone_the_user_chose_wins_over_the_one_teams_reports(self, port: Port) -> None:
        await port.choose_zone(ALEX, "America/Chicago")
        port.clock.advance(60)
        record = await turn(port, "k1", "Asia/Tokyo")
        assert record.settings is not None
        assert (record.settings.time_zone, record.settings.time_zone_explicit) == ("America/Chicago", True)
        await port.choose_zone(ALEX, None)  # /timezone auto: Teams' zone again
        port.clock.advance(60)
        record = await turn(port, "k2", "Asia/Tokyo")
        assert record.settings is not None
        assert (record.settings.time_zone, record.settings.time_zone_explicit) == ("Asia/Tokyo", False)


# -- the implementations -----------------------------------------------------------------------------------
class TestFakePeople(LedgerContract):
    @pytest.fixture
    def port(self) -> Port:
        clock = AdjustableClock()
        people = FakePeople(clock)
        return Port(people, people.set_time_zone, clock)


class TestStore(LedgerContract):
    @pytest.fixture
    def port(self, store: Store, store_clock: AdjustableClock) -> Port:
        return Port(store, store.set_time_zone, store_clock)
