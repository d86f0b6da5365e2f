"""The per-activity pipeline: each step alone (with fakes), the dispatch table, the two store
transactions, and what one command costs in store transactions through the real endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from bot.app import RUNTIME
from bot.clock import AdjustableClock
from bot.colleagues.service import ColleaguesService
from bot.core.users import UserRef
from bot.graph.models import Presence
from bot.preferences import PreferencesService
from bot.presence.locks import UserBusy
from bot.presence.service import PresenceService
from bot.server import RunningBot
from bot.store import Store
from bot.store.effects import collect
from bot.store.records import (
    AuditRow,
    HoldStatus,
    NewHold,
    SavedConversation,
    TimerKind,
    TimerPlan,
    TurnRecord,
    UserSettings,
    hold_timer_key,
)
from bot.store.schema import conversation_references, timers
from bot.turns import (
    CheckTenant,
    Dispatcher,
    Inbound,
    MarkDone,
    Pipeline,
    RecordTurn,
    Reply,
    ResolveTimeZone,
    Turn,
    TurnKind,
    require_sender,
    skip_redelivered,
)
from bot.turns.commands import Services
from tests.support.connector import Connector
from tests.support.e2e import card_of, say, texts
from tests.support.fake_holds import FakeHolds
from tests.support.fakes import FakeGraph, FakePeople, FakeWatches
from tests.support.store import list_audit

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
ALEX = UserRef(user_id="aad-alex", tenant_id="tenant-1", name="Alex")
HERE = SavedConversation("conv-1", "personal", {"conversation": {"id": "conv-1"}, "serviceUrl": "http://x"})


def inbound(**changes: Any) -> Inbound:
    values: dict[str, Any] = {
        "kind": TurnKind.MESSAGE,
        "text": "/presence",
        "sender": ALEX,
        "tenant_id": ALEX.tenant_id,
        "activity_key": "msteams|conv-1|1",
        "conversation": HERE,
        "teams_zone": "Europe/Berlin",
        "personal": True,
        "viewer_id": "29:alex",
    }
    values.update(changes)
    return Inbound(**values)


def turn(**changes: Any) -> Turn:
    facts = inbound(**changes)
    return Turn(inbound=facts, now=NOW, text=facts.text)


class Reached:
    """The rest of the pipeline, as a step sees it: records that it was called and with what."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []

    async def __call__(self, current: Turn) -> Reply | None:
        self.turns.append(current)
        return Reply({"type": "AdaptiveCard"}, "reached")


def settings(zone: str | None = None, explicit: bool = False) -> UserSettings:
    return UserSettings(
        tenant_id=ALEX.tenant_id,
        user_id=ALEX.user_id,
        time_zone=zone,
        time_zone_explicit=explicit,
        notices_enabled=True,
        updated_at=NOW,
    )


# -- the steps, one at a time -------------------------------------------------------------------
async def test_a_turn_without_a_sender_is_answered_and_goes_no_further() -> None:
    rest = Reached()
    reply = await require_sender(turn(sender=None), rest)
    assert reply is not None and "went wrong" in reply.text and rest.turns == []


async def test_a_refused_tenant_is_answered_before_anything_is_stored() -> None:
    rest = Reached()
    step = CheckTenant(lambda tenant: tenant == "tenant-1")
    reply = await step(turn(tenant_id="tenant-2"), rest)
    assert reply is not None and "can't use this bot" in reply.text and rest.turns == []
    assert await step(turn(), rest) is not None and len(rest.turns) == 1


async def test_record_turn_hands_the_store_what_the_activity_says_and_keeps_the_settings() -> None:
    ledger = FakePeople()
    ledger.settings[ALEX.key] = settings("Asia/Tokyo", explicit=True)
    rest = Reached()
    await RecordTurn(ledger)(turn(), rest)
    assert ledger.turns == [
        {"user": ALEX, "key": "msteams|conv-1|1", "conversation": HERE, "zone": "Europe/Berlin"}
    ]
    assert rest.turns[0].settings == settings("Asia/Tokyo", explicit=True) and not rest.turns[0].redelivered


async def test_a_turn_that_stores_nothing_is_marked_done_once_its_reply_is_ready() -> None:
    ledger = FakePeople()
    rest = Reached()
    reply = await MarkDone(ledger)(turn(), rest)
    assert reply is not None and ledger.marked == ["msteams|conv-1|1"]


async def test_a_turn_whose_outcome_is_stored_is_marked_in_that_transaction(store: Store) -> None:
    ledger = FakePeople()

    async def command(current: Turn) -> Reply:
        async with collect(store, ALEX, current.unit) as effects:
            effects.audit.append(AuditRow("set_presence", "ok", {}, 200))
        return Reply({}, "done")

    await MarkDone(ledger)(turn(), command)
    assert ledger.marked == [], "marked with the outcome, not on its own"
    again = await store.record_turn(
        ALEX, activity_key="msteams|conv-1|1", conversation=None, reported_zone=None
    )
    assert not again.fresh


async def test_a_turn_cut_short_is_not_marked_and_is_redone() -> None:
    ledger = FakePeople()

    async def crash(current: Turn) -> Reply:
        raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError):
        await MarkDone(ledger)(turn(), crash)
    assert ledger.marked == []


async def test_the_same_activity_delivered_twice_at_once_is_carried_out_once() -> None:
    ledger = FakePeople()
    started = asyncio.Event()
    release = asyncio.Event()
    runs: list[str] = []

    async def slow(current: Turn) -> Reply | None:
        return await skip_redelivered(current, work)

    async def work(current: Turn) -> Reply:
        runs.append(current.text)
        started.set()
        await release.wait()
        return Reply({}, "done")

    step = MarkDone(ledger)
    first = asyncio.create_task(step(turn(), slow))
    await started.wait()
    assert await step(turn(), slow) is None, "the duplicate message gets no reply of its own"
    release.set()
    assert (await first) is not None and runs == ["/presence"] and ledger.marked == ["msteams|conv-1|1"]


async def test_a_redelivered_message_gets_no_second_reply() -> None:
    rest = Reached()
    current = turn()
    current.redelivered = True
    assert await skip_redelivered(current, rest) is None and rest.turns == []


async def test_a_redelivered_card_action_shows_the_card_and_changes_nothing() -> None:
    rest = Reached()
    current = turn(kind=TurnKind.ACTION, text="/busy 30m")
    current.redelivered = True
    await skip_redelivered(current, rest)
    assert rest.turns[0].text == "/presence"


@pytest.mark.parametrize(
    ("stored", "reported", "expected"),
    [
        (settings("Asia/Tokyo", explicit=True), "Europe/Berlin", "Asia/Tokyo"),  # chosen with /timezone
        (settings("Asia/Tokyo"), "Europe/Berlin", "Europe/Berlin"),  # what Teams says now
        (settings("Asia/Tokyo"), None, "Asia/Tokyo"),  # the last one Teams said
        (None, None, "America/Chicago"),  # the deployment's default
    ],
)
async def test_the_time_zone_comes_from_the_user_then_teams_then_memory_then_the_default(
    stored: UserSettings | None, reported: str | None, expected: str
) -> None:
    current = turn(teams_zone=reported)
    current.settings = stored
    rest = Reached()
    await ResolveTimeZone("America/Chicago")(current, rest)
    assert rest.turns[0].time_zone == expected


async def test_the_pipeline_runs_its_steps_in_order_and_a_step_can_stop_it() -> None:
    seen: list[str] = []

    def step(name: str, stop: bool = False) -> Callable[[Turn, Any], Awaitable[Reply | None]]:
        async def run(current: Turn, call_next: Any) -> Reply | None:
            seen.append(name)
            return Reply({}, f"stopped at {name}") if stop else await call_next(current)

        return run

    async def final(current: Turn) -> Reply:
        seen.append("final")
        return Reply({}, "final")

    assert (await Pipeline([step("a"), step("b")], final).run(turn())) == Reply({}, "final")
    assert seen == ["a", "b", "final"]
    seen.clear()
    assert (await Pipeline([step("a", stop=True), step("b")], final).run(turn())) == Reply({}, "stopped at a")
    assert seen == ["a"]


# -- the dispatch table -------------------------------------------------------------------------
class FakePreferences:
    def __init__(self) -> None:
        self.zones: list[str | None] = []
        self.notices: list[bool] = []

    async def set_time_zone(self, user: UserRef, time_zone: str | None) -> object:
        self.zones.append(time_zone)
        return None

    async def set_notices_enabled(self, user: UserRef, enabled: bool) -> object:
        self.notices.append(enabled)
        return None


def dispatcher(
    graph: FakeGraph | None = None, prefs: FakePreferences | None = None, budget: float = 5
) -> Dispatcher:
    presence = PresenceService(
        graph or FakeGraph(), FakeHolds(), session_id="app", default_duration=timedelta(hours=1)
    )
    watches = FakeWatches()
    colleagues = ColleaguesService(graph or FakeGraph(), watches, watches)
    services = Services(presence, PreferencesService(prefs or FakePreferences()), colleagues)
    return Dispatcher(services, budget_seconds=budget)


async def test_preferences_are_a_service_of_their_own() -> None:
    prefs = FakePreferences()
    route = dispatcher(prefs=prefs)
    reply = await route(turn(text="/timezone Asia/Tokyo"))
    assert prefs.zones == ["Asia/Tokyo"] and "Time zone set to Asia/Tokyo" in reply.text
    reply = await route(turn(text="/timezone auto"))
    assert prefs.zones == ["Asia/Tokyo", None] and "Europe/Berlin" in reply.text
    await route(turn(text="/notify off"))
    assert prefs.notices == [False]


async def test_a_lease_held_by_another_replica_is_named_as_such() -> None:
    graph = FakeGraph()

    async def busy(*args: Any, **kwargs: Any) -> Any:
        raise UserBusy("another replica")

    graph.apply = busy  # type: ignore[method-assign]
    reply = await dispatcher(graph)(turn(text="/busy 30m"))
    assert "still busy with your previous change" in reply.text
    assert "didn't answer in time" not in reply.text


async def test_a_command_out_of_time_says_so() -> None:
    graph = FakeGraph()

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(10)

    graph.apply = slow  # type: ignore[method-assign]
    reply = await dispatcher(graph, budget=0.05)(turn(text="/busy 30m"))
    assert "didn't answer in time" in reply.text


async def test_presence_cards_ask_for_per_user_refresh_only_in_one_to_one_chats() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    personal = await dispatcher(graph)(turn(text="/presence"))
    group = await dispatcher(graph)(turn(text="/presence", personal=False))
    assert personal.card["refresh"]["userIds"] == ["29:alex"]
    assert "refresh" not in group.card


# -- the two transactions -----------------------------------------------------------------------
async def _reference_updated_at(store: Store) -> list[datetime]:
    async with store.read() as connection:
        return list((await connection.execute(sa.select(conversation_references.c.updated_at))).scalars())


async def test_record_turn_marks_the_activity_and_writes_only_what_changed(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, AdjustableClock)
    first = await store.record_turn(ALEX, activity_key="k1", conversation=HERE, reported_zone="Europe/Berlin")
    assert first.fresh and first.settings is not None and first.settings.time_zone == "Europe/Berlin"
    written = await _reference_updated_at(store)
    clock.advance(60)
    second = await store.record_turn(
        ALEX, activity_key="k2", conversation=HERE, reported_zone="Europe/Berlin"
    )
    assert second.fresh and second.settings == first.settings, "nothing changed: nothing written"
    assert await _reference_updated_at(store) == written
    await store.mark_done(ALEX, "k2")  # its work was done
    again = await store.record_turn(ALEX, activity_key="k2", conversation=HERE, reported_zone="Asia/Tokyo")
    assert again == TurnRecord(fresh=False, settings=None), "a redelivery changes nothing"
    moved = await store.record_turn(ALEX, activity_key="k3", conversation=HERE, reported_zone="Asia/Tokyo")
    assert moved.settings is not None and moved.settings.time_zone == "Asia/Tokyo"


async def test_record_turn_keeps_the_latest_conversation_latest(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, AdjustableClock)
    group = SavedConversation("conv-2", "groupChat", {"conversation": {"id": "conv-2"}})
    for key, where in (("a", HERE), ("b", group), ("c", HERE)):
        clock.advance(60)
        await store.record_turn(ALEX, activity_key=key, conversation=where, reported_zone=None)
    latest = await store.latest_conversation_reference(ALEX)
    assert latest is not None and latest.conversation_id == "conv-1"


async def test_a_commands_hold_timers_and_audit_are_one_transaction(store: Store) -> None:
    now = store.clock.now()
    end = now + timedelta(hours=6)
    plans = (TimerPlan(TimerKind.END, end, {}), TimerPlan(TimerKind.REFRESH, now + timedelta(hours=3), {}))
    async with collect(store, ALEX, None) as effects:
        await effects.record_write(  # the unit is the Graph call's audit sink
            user_id=ALEX.user_id,
            tenant_id=ALEX.tenant_id,
            operation="set_presence",
            request={},
            status=200,
            code="ok",
        )
        assert await list_audit(store, ALEX) == [], "nothing is written before the command ends"
        effects.new_hold = NewHold("busy", "session", "Busy", "InACall", end, now + timedelta(hours=4), plans)
    hold = await store.get_active_hold(ALEX)
    assert hold is not None and hold.requested_end == end
    assert [entry.operation for entry in await list_audit(store, ALEX)] == ["set_presence"]
    async with store.read() as connection:
        keys = set((await connection.execute(sa.select(timers.c.key))).scalars())
    assert keys == {hold_timer_key(hold.id, "end"), hold_timer_key(hold.id, "refresh")}


async def test_a_failed_command_keeps_the_audit_of_what_it_sent(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with collect(store, ALEX, None) as effects:
            effects.audit.append(AuditRow("set_presence", "Timeout", {}, 504))
            raise RuntimeError("Graph timed out")
    assert [entry.outcome for entry in await list_audit(store, ALEX)] == ["Timeout"]
    assert await store.get_active_hold(ALEX) is None


async def test_ending_a_hold_in_a_command_deletes_its_timers(store: Store) -> None:
    plans = (TimerPlan(TimerKind.END, NOW + timedelta(hours=1), {}),)
    async with collect(store, ALEX, None) as effects:
        effects.new_hold = NewHold(
            "busy", "session", "Busy", "InACall", NOW + timedelta(hours=1), None, plans
        )
    async with collect(store, ALEX, None) as effects:
        effects.end_hold = (HoldStatus.CANCELLED, "cleared with /clear")
    assert await store.get_active_hold(ALEX) is None
    assert (await store.counts()).timers == 0


# -- through the real endpoint: what one command costs the store ---------------------------------
class Transactions:
    """Counts the write transactions (BEGIN IMMEDIATE on SQLite) the bot's store begins."""

    def __init__(self, store: Store) -> None:
        self.writes = 0
        self.reads = 0
        self._engines = store.engines  # the async driver's, and the store thread's on SQLite
        for engine in self._engines:
            event.listen(engine, "begin", self._begin)

    def _begin(self, connection: sa.Connection) -> None:
        if connection.get_execution_options().get("sqlite_begin_immediate", False):
            self.writes += 1
        else:
            self.reads += 1

    def close(self) -> None:
        for engine in self._engines:
            event.remove(engine, "begin", self._begin)


async def test_a_busy_command_is_two_write_transactions(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    runtime = bot.app[RUNTIME]
    await say(http, bot, connector, "/presence")  # the first turn: the user and their reference are new
    counted = Transactions(runtime.services.store)
    try:
        card = card_of(await say(http, bot, connector, "/busy 30m"))
        assert "In a call" in texts(card)
        busy = (counted.writes, counted.reads)
        await say(http, bot, connector, "/presence")
        assert (counted.writes - busy[0]) == 2, "/presence: the bookkeeping, then the processed mark"
    finally:
        counted.close()
    assert busy[0] == 2, "the bookkeeping, then the outcome (hold, timers, audit, the processed mark)"
    assert busy[1] <= 1, "one read: the active hold, under the user's lock"
