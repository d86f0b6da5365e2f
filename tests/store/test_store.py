"""The durable store, on SQLite and on PostgreSQL (see tests/support/dbs.py)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from bot.clock import AdjustableClock
from bot.store import HoldStatus, Store, Timer, TimerService, UserRef, hold_timer_key, open_store
from bot.store.migrate import alembic_config
from bot.store.records import Effects, SavedConversation
from bot.store.schema import holds, metadata
from tests.support import dbs
from tests.support.store import list_audit, list_holds, start_hold

ROOT = Path(__file__).resolve().parents[2]
ALEX = UserRef(user_id="aad-alex", tenant_id="tenant-1")
BEN = UserRef(user_id="aad-ben", tenant_id="tenant-1")
EMULATOR = UserRef(user_id="emulator-user", tenant_id=None)


@pytest.fixture
def clock(store_clock: AdjustableClock) -> AdjustableClock:
    """The clock of the `store` fixture (tests/support/fixtures.py)."""
    return store_clock


async def _ignore(timer: Timer) -> None:
    return None


def _busy(store: Store, clock: AdjustableClock, user: UserRef = ALEX, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "state": "busy",
        "layer": "session",
        "availability": "Busy",
        "activity": "InACall",
        "requested_end": clock.now() + timedelta(hours=6),
    }
    values.update(extra)
    return start_hold(store, user, **values)


# -- opening and migrations ----------------------------------------------------------------------------
async def test_default_store_is_a_sqlite_file_in_wal_mode_with_foreign_keys(
    tmp_path: Path, clock: AdjustableClock
) -> None:
    store = await open_store(None, tmp_path / "data", clock)
    try:
        assert (tmp_path / "data" / "presence-bot.db").is_file()
        assert store.dialect == "sqlite"
        async with store.read() as connection:
            assert await connection.scalar(sa.text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(sa.text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(sa.text("PRAGMA busy_timeout")) == 5000
    finally:
        await store.close()


async def test_unsupported_or_in_memory_databases_are_refused(tmp_path: Path, clock: AdjustableClock) -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        await open_store("mysql+aiomysql://u@localhost/db", tmp_path, clock)
    with pytest.raises(ValueError, match="SQLite file"):
        await open_store("sqlite+aiosqlite:///:memory:", tmp_path, clock)


async def test_a_plain_sqlite_url_uses_aiosqlite(tmp_path: Path, clock: AdjustableClock) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'nested' / 'bot.db'}", tmp_path, clock)
    try:
        assert store.engine.url.drivername == "sqlite+aiosqlite"
        assert (tmp_path / "nested" / "bot.db").is_file()
    finally:
        await store.close()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_the_postgresql_schema_named_in_the_url_is_created(
    store_url: str,
    tmp_path: Path,
    clock: AdjustableClock,
) -> None:
    fresh = f"t_fresh_{uuid.uuid4().hex[:12]}"
    store = await open_store(store_url.split("?")[0] + f"?schema={fresh}", tmp_path, clock)
    try:
        await store.set_time_zone(ALEX, "UTC")
        async with store.read() as connection:
            assert await connection.scalar(sa.text("SELECT current_schema()")) == fresh
    finally:
        async with store.write() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{fresh}" CASCADE'))
        await store.close()


async def test_without_postgresql_the_fixture_skips_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dbs, "PG_PORT", 1)  # nothing listens there
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        await dbs.connect_postgres()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        await dbs.connect_postgres()


async def test_migrations_reach_head_and_match_the_schema(store: Store) -> None:
    def inspect(connection: sa.Connection) -> tuple[str | None, list[Any]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return context.get_current_revision(), compare_metadata(context, metadata)

    async with store.read() as connection:
        revision, differences = await connection.run_sync(inspect)
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert differences == []  # the revisions build exactly what bot/store/schema.py describes


async def test_reopening_is_idempotent_and_keeps_the_data(
    store_url: str,
    tmp_path: Path,
    clock: AdjustableClock,
) -> None:
    first = await open_store(store_url, tmp_path, clock)
    await first.set_time_zone(ALEX, "Europe/Paris")
    hold = await _busy(first, clock)
    await _save_reference(first, "a:1", "personal", {"conversation": {"id": "a:1"}})
    await first.record_audit(ALEX, operation="setPresence", outcome="ok", status_code=200)
    timers = TimerService(first, clock, _ignore, owner="first")
    await timers.schedule(hold_timer_key(hold.id, "refresh"), "refresh", clock.now(), hold_id=hold.id)
    await first.close()

    for _ in range(2):
        again = await open_store(store_url, tmp_path, clock)
        try:
            user = await again.get_user(ALEX)
            assert user is not None and user.time_zone == "Europe/Paris"
            assert await again.get_active_hold(ALEX) == hold
            reference = await again.latest_conversation_reference(ALEX)
            assert reference is not None and reference.reference == {"conversation": {"id": "a:1"}}
            assert [entry.operation for entry in await list_audit(again, ALEX)] == ["setPresence"]
            counts = await again.counts()
            assert (counts.users, counts.holds, counts.timers, counts.audit_log) == (1, 1, 1, 1)
        finally:
            await again.close()


async def test_two_processes_opening_a_fresh_database_at_once_both_succeed(
    store_url: str,
    tmp_path: Path,
    clock: AdjustableClock,
) -> None:
    stores = await asyncio.gather(*(open_store(store_url, tmp_path, clock) for _ in range(3)))
    try:
        await stores[0].set_time_zone(ALEX, "UTC")
        assert await stores[2].get_user(ALEX) is not None
    finally:
        for opened in stores:
            await opened.close()


_OPEN_IN_A_PROCESS = """
import asyncio, sys
from pathlib import Path
from bot.clock import SystemClock
from bot.store import open_store

async def main() -> None:
    store = await open_store(sys.argv[1], Path(sys.argv[2]), SystemClock())
    await store.close()

asyncio.run(main())
"""


async def test_two_processes_migrating_one_database_at_once_both_succeed(
    store_url: str,
    tmp_path: Path,
    clock: AdjustableClock,
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _OPEN_IN_A_PROCESS,
            store_url,
            str(tmp_path),
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    results = [await process.communicate() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err.decode() for _, err in results]
    store = await open_store(store_url, tmp_path, clock)
    try:
        assert (await store.counts()).users == 0
    finally:
        await store.close()


# -- users ------------------------------------------------------------------------------------------------
async def test_user_time_zone_and_notice_preference(store: Store, clock: AdjustableClock) -> None:
    assert await store.get_user(ALEX) is None

    created = await store.set_time_zone(ALEX, "America/New_York")
    assert created.time_zone == "America/New_York"
    assert created.notices_enabled is True  # the default
    assert created.tenant_id == "tenant-1"

    clock.advance(60)
    muted = await store.set_notices_enabled(ALEX, False)
    assert muted.time_zone == "America/New_York"  # untouched
    assert muted.notices_enabled is False
    assert muted.updated_at > created.updated_at

    moved = await store.set_time_zone(ALEX, "Asia/Tokyo")
    assert (moved.time_zone, moved.notices_enabled) == ("Asia/Tokyo", False)
    assert await store.get_user(ALEX) == moved
    assert await store.get_user(BEN) is None


async def test_a_user_without_tenant_is_kept_apart(store: Store) -> None:
    await store.set_time_zone(EMULATOR, "UTC")
    user = await store.get_user(EMULATOR)
    assert user is not None and user.tenant_id is None
    assert await store.get_user(UserRef(user_id="emulator-user", tenant_id="tenant-1")) is None


# -- holds ------------------------------------------------------------------------------------------------
async def test_replace_active_hold_creates_an_active_hold(store: Store, clock: AdjustableClock) -> None:
    end = clock.now() + timedelta(hours=6)
    expires = clock.now() + timedelta(hours=4)
    hold = await _busy(store, clock, requested_end=end, graph_expires_at=expires)
    assert hold.status is HoldStatus.ACTIVE and hold.is_active
    assert (hold.state, hold.layer, hold.availability, hold.activity) == (
        "busy",
        "session",
        "Busy",
        "InACall",
    )
    assert hold.requested_end == end
    assert hold.graph_expires_at == expires
    assert hold.last_refresh_at == hold.created_at
    assert await store.get_active_hold(ALEX) == hold
    assert await store.get_hold(hold.id) == hold
    assert await store.get_active_hold(BEN) is None
    assert await store.get_hold(hold.id + 1000) is None


async def test_replacing_cancels_the_previous_hold_and_deletes_its_timers(
    store: Store, clock: AdjustableClock
) -> None:
    timers = TimerService(store, clock, _ignore, owner="test")
    first = await _busy(store, clock)
    other = await _busy(store, clock, user=BEN)
    for hold in (first, other):
        for purpose in ("refresh", "end"):
            await timers.schedule(hold_timer_key(hold.id, purpose), purpose, clock.now(), hold_id=hold.id)
    await timers.schedule("unrelated", "cleanup", clock.now())

    second = await start_hold(
        store,
        ALEX,
        state="away",
        layer="session",
        availability="Away",
        activity="Away",
        requested_end=None,
        reason="you asked for away",
    )

    assert await store.get_active_hold(ALEX) == second
    previous = await store.get_hold(first.id)
    assert previous is not None
    assert previous.status is HoldStatus.CANCELLED
    assert previous.ended_reason == "you asked for away"
    assert previous.ended_at is not None
    assert await timers.get(hold_timer_key(first.id, "refresh")) is None
    assert await timers.get(hold_timer_key(first.id, "end")) is None
    # Other users' and unrelated timers stay.
    assert await timers.get(hold_timer_key(other.id, "refresh")) is not None
    assert await timers.get("unrelated") is not None
    assert (await store.counts()).active_holds == 2


async def test_the_database_allows_one_active_hold_per_user(store: Store, clock: AdjustableClock) -> None:
    hold = await _busy(store, clock)
    row = {
        "tenant_id": "tenant-1",
        "user_id": ALEX.user_id,
        "state": "away",
        "layer": "session",
        "availability": "Away",
        "activity": "Away",
        "created_at": clock.now(),
    }
    with pytest.raises(IntegrityError):
        async with store.write() as connection:
            await connection.execute(sa.insert(holds).values(status="active", **row))
    async with store.write() as connection:  # ended holds are not limited
        await connection.execute(sa.insert(holds).values(status="ended", **row))
    assert await store.get_active_hold(ALEX) == hold


async def test_concurrent_replacements_leave_exactly_one_active_hold(
    store: Store, clock: AdjustableClock
) -> None:
    made = await asyncio.gather(*(_busy(store, clock, state=f"s{i}") for i in range(6)))
    active = await store.get_active_hold(ALEX)
    assert active is not None and active in made
    history = await list_holds(store, ALEX)
    assert len(history) == 6
    assert [hold.status for hold in history].count(HoldStatus.ACTIVE) == 1
    assert (await store.counts()).active_holds == 1


async def test_end_hold_ends_once_and_deletes_its_timers(store: Store, clock: AdjustableClock) -> None:
    timers = TimerService(store, clock, _ignore, owner="test")
    hold = await _busy(store, clock)
    await timers.schedule(hold_timer_key(hold.id, "refresh"), "refresh", clock.now(), hold_id=hold.id)

    ended = await store.end_hold(hold.id, HoldStatus.ENDED, "requested end reached")
    assert ended is not None
    assert (ended.status, ended.ended_reason) == (HoldStatus.ENDED, "requested end reached")
    assert await store.get_active_hold(ALEX) is None
    assert await timers.get(hold_timer_key(hold.id, "refresh")) is None
    # A second end (say, a redelivered timer) changes nothing.
    assert await store.end_hold(hold.id, HoldStatus.FAILED, "late") is None
    stored = await store.get_hold(hold.id)
    assert stored is not None and stored.status is HoldStatus.ENDED
    with pytest.raises(ValueError):
        await store.end_hold(hold.id, HoldStatus.ACTIVE, "no")


async def test_a_commit_can_end_the_active_hold_without_a_successor(
    store: Store, clock: AdjustableClock
) -> None:
    assert await store.commit(Effects(ALEX, end_hold=(HoldStatus.CANCELLED, "cleared"))) is None
    hold = await _busy(store, clock)
    timers = TimerService(store, clock, _ignore, owner="test")
    await timers.schedule(hold_timer_key(hold.id, "end"), "end", clock.now(), hold_id=hold.id)
    assert await store.commit(Effects(ALEX, end_hold=(HoldStatus.FAILED, "Graph refused: 403"))) is None
    ended = await store.get_hold(hold.id)
    assert ended is not None and ended.status is HoldStatus.FAILED
    assert ended.ended_reason == "Graph refused: 403"
    assert await timers.get(hold_timer_key(hold.id, "end")) is None
    assert await store.get_active_hold(ALEX) is None and (await store.counts()).active_holds == 0


async def test_update_hold_refresh_only_touches_active_holds(store: Store, clock: AdjustableClock) -> None:
    hold = await _busy(store, clock)
    assert hold.last_refresh_at is None
    clock.advance(3.5 * 3600)
    at, expires = clock.now(), clock.now() + timedelta(hours=4)
    refreshed = await store.update_hold_refresh(hold.id, at, expires)
    assert refreshed is not None
    assert (refreshed.last_refresh_at, refreshed.graph_expires_at) == (at, expires)
    await store.end_hold(hold.id, HoldStatus.ENDED, "done")
    assert await store.update_hold_refresh(hold.id, clock.now(), expires) is None


async def test_ending_one_users_hold_leaves_the_others(store: Store, clock: AdjustableClock) -> None:
    alex = await _busy(store, clock)
    ben = await _busy(store, clock, user=BEN)
    await store.end_hold(alex.id, HoldStatus.ENDED, "done")
    assert await store.get_active_hold(ALEX) is None
    still = await store.get_active_hold(BEN)
    assert still is not None and still.id == ben.id and (await store.counts()).active_holds == 1


# -- conversation references ---------------------------------------------------------------------------
async def _save_reference(
    store: Store,
    conversation_id: str,
    conversation_type: str,
    reference: dict[str, Any],
    user: UserRef = ALEX,
) -> None:
    """Remember a conversation as an incoming activity does (`record_turn`, no redelivery key)."""
    saved = SavedConversation(conversation_id, conversation_type, reference)
    await store.record_turn(user, activity_key=None, conversation=saved, reported_zone=None)


async def _fresh(store: Store, activity_key: str) -> bool:
    """Whether an activity with this key is new (to act on) or a redelivery (to skip); a new one is then
    handled, and marked processed, as the pipeline does once its work is done."""
    record = await store.record_turn(ALEX, activity_key=activity_key, conversation=None, reported_zone=None)
    if record.fresh:
        await store.mark_done(ALEX, activity_key)
    return record.fresh


def _reference(conversation_id: str, conversation_type: str) -> dict[str, Any]:
    return {
        "activityId": "1",
        "user": {"id": "29:alex", "aadObjectId": ALEX.user_id},
        "bot": {"id": "28:bot"},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": "tenant-1",
        },
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "locale": "en-US",
    }


async def test_conversation_references_one_per_conversation_latest_wins(
    store: Store, clock: AdjustableClock
) -> None:
    assert await store.latest_conversation_reference(ALEX) is None
    await _save_reference(store, "a:personal", "personal", _reference("a:personal", "personal"))
    personal = await store.latest_conversation_reference(ALEX)
    assert personal is not None and personal.reference == _reference("a:personal", "personal")
    clock.advance(5)
    await _save_reference(store, "19:group", "groupChat", _reference("19:group", "groupChat"))
    latest = await store.latest_conversation_reference(ALEX)
    assert latest is not None and latest.conversation_id == "19:group"
    only_personal = await store.latest_conversation_reference(ALEX, conversation_type="personal")
    assert only_personal is not None and only_personal.conversation_id == "a:personal"

    clock.advance(5)
    updated = _reference("a:personal", "personal") | {"serviceUrl": "https://smba.trafficmanager.net/amer/"}
    await _save_reference(store, "a:personal", "personal", updated)
    latest = await store.latest_conversation_reference(ALEX)
    assert latest is not None and latest.reference == updated
    assert latest.tenant_id == "tenant-1" and latest.user_id == ALEX.user_id
    assert (await store.counts()).conversation_references == 2
    assert await store.latest_conversation_reference(BEN) is None


async def test_forget_conversation_deletes_only_what_it_names(store: Store, clock: AdjustableClock) -> None:
    for conversation, kind in (("a:alex", "personal"), ("a:alex-old", "personal"), ("19:group", "groupChat")):
        await _save_reference(store, conversation, kind, _reference(conversation, kind))
        clock.advance(1)
    for conversation, kind in (("a:ben", "personal"), ("19:group", "groupChat")):
        await _save_reference(store, conversation, kind, _reference(conversation, kind), user=BEN)
    other_tenant = UserRef(user_id=BEN.user_id, tenant_id="tenant-2")
    await _save_reference(store, "19:group", "groupChat", _reference("19:group", "groupChat"), other_tenant)

    # A 403 in Alex's group chat: only Alex's reference to it.
    assert await store.forget_conversation(ALEX, "19:group") == 1
    latest = await store.latest_conversation_reference(ALEX)
    assert latest is not None and latest.conversation_id == "a:alex-old"
    # The app removed from the group chat: everyone's reference to it, in that tenant only.
    assert await store.forget_conversation(ALEX, "19:group", everyone=True) == 1
    bens = await store.latest_conversation_reference(BEN)
    assert bens is not None and bens.conversation_id == "a:ben"
    assert await store.latest_conversation_reference(other_tenant) is not None
    # Alex uninstalled the app: every personal chat of Alex's, and Ben's stay.
    assert await store.forget_conversation(ALEX, "a:alex", personal=True) == 2
    assert await store.latest_conversation_reference(ALEX) is None
    assert await store.forget_conversation(ALEX, None) == 0
    assert (await store.counts()).conversation_references == 2

    # A later message saves a new reference as usual.
    await _save_reference(store, "a:alex-new", "personal", _reference("a:alex-new", "personal"))
    latest = await store.latest_conversation_reference(ALEX)
    assert latest is not None and latest.conversation_id == "a:alex-new"


# -- redelivered activities ------------------------------------------------------------------------------
async def test_an_activity_is_processed_once_within_ten_minutes(store: Store, clock: AdjustableClock) -> None:
    assert await _fresh(store, "activity-1") is True
    assert await _fresh(store, "activity-1") is False
    assert await _fresh(store, "activity-2") is True
    clock.advance(9 * 60 + 50)
    assert await _fresh(store, "activity-1") is False  # still inside the window
    clock.advance(15)
    assert await _fresh(store, "activity-1") is True  # ten minutes after first seen
    assert await _fresh(store, "activity-1") is False


async def test_an_activity_is_redone_until_its_work_is_marked_done(store: Store) -> None:
    """A process killed mid-command never marked the activity: its redelivery is carried out."""
    first = await store.record_turn(ALEX, activity_key="cut-short", conversation=None, reported_zone=None)
    again = await store.record_turn(ALEX, activity_key="cut-short", conversation=None, reported_zone=None)
    assert first.fresh and again.fresh
    await store.mark_done(ALEX, "cut-short")
    done = await store.record_turn(ALEX, activity_key="cut-short", conversation=None, reported_zone=None)
    assert not done.fresh
    concurrent = await asyncio.gather(*(store.mark_done(ALEX, "twice") for _ in range(4)))
    assert concurrent == [None] * 4 and (await store.counts()).processed_activities == 2


async def test_old_activity_ids_are_pruned(store: Store, clock: AdjustableClock) -> None:
    for number in range(5):
        await _fresh(store, f"old-{number}")
    assert (await store.counts()).processed_activities == 5
    clock.advance(11 * 60)
    await _fresh(store, "new")  # prunes in passing
    assert (await store.counts()).processed_activities == 1


# -- audit ------------------------------------------------------------------------------------------------
async def test_audit_records_every_write_newest_first(store: Store, clock: AdjustableClock) -> None:
    request = {
        "sessionId": "app-id",
        "availability": "Busy",
        "activity": "InACall",
        "expirationDuration": "PT4H",
    }
    first = await store.record_audit(
        ALEX, operation="setPresence", outcome="ok", request=request, status_code=200
    )
    clock.advance(1)
    await store.record_audit(
        ALEX,
        operation="setUserPreferredPresence",
        outcome="Forbidden",
        status_code=403,
        detail="x" * 5000,
    )
    await store.record_audit(BEN, operation="clearPresence", outcome="ok", status_code=200)

    assert first.request == request and first.status_code == 200 and first.tenant_id == "tenant-1"
    entries = await list_audit(store, ALEX)
    assert [entry.operation for entry in entries] == ["setUserPreferredPresence", "setPresence"]
    assert entries[0].outcome == "Forbidden" and entries[0].status_code == 403
    assert entries[0].detail is not None and len(entries[0].detail) == 1000
    assert entries[0].at > entries[1].at
    assert [entry.operation for entry in await list_audit(store, ALEX, limit=1)] == [
        "setUserPreferredPresence"
    ]
    assert (await store.counts()).audit_log == 3


async def test_counts_start_at_zero(store: Store) -> None:
    counts = await store.counts()
    assert counts.model_dump() == {
        "users": 0,
        "holds": 0,
        "active_holds": 0,
        "timers": 0,
        "conversation_references": 0,
        "processed_activities": 0,
        "audit_log": 0,
        "watches": 0,
        "active_watches": 0,
    }


async def test_active_holds_missing_timers_are_found(store: Store, clock: AdjustableClock) -> None:
    service = TimerService(store, clock, _ignore, owner="test")
    now = clock.now()
    bob, carol, dana = (
        UserRef(user_id=f"user-{name}", tenant_id=ALEX.tenant_id) for name in ("bob", "carol", "dana")
    )
    # Whole: an end timer and a refresh timer.
    whole = await _busy(store, clock, graph_expires_at=now + timedelta(hours=4))
    await service.schedule(hold_timer_key(whole.id, "end"), "end", now + timedelta(hours=6), hold_id=whole.id)
    await service.schedule(
        hold_timer_key(whole.id, "refresh"), "refresh", now + timedelta(hours=3), hold_id=whole.id
    )
    # No timer at all.
    bare = await _busy(store, clock, bob, graph_expires_at=now + timedelta(hours=4))
    # An end timer but no refresh, though Graph's session lapses before the requested end.
    no_refresh = await _busy(store, clock, carol, graph_expires_at=now + timedelta(hours=4))
    await service.schedule(
        hold_timer_key(no_refresh.id, "end"), "end", now + timedelta(hours=6), hold_id=no_refresh.id
    )
    # A preferred presence needs no refresh: its end timer is enough.
    preferred = await _busy(
        store,
        clock,
        dana,
        state="dnd",
        layer="preferred",
        availability="DoNotDisturb",
        activity="DoNotDisturb",
    )
    await service.schedule(
        hold_timer_key(preferred.id, "end"), "end", now + timedelta(hours=6), hold_id=preferred.id
    )
    missing = await store.active_holds_missing_timers()
    assert [(gap.hold.id, gap.missing_end, gap.missing_refresh) for gap in missing] == [
        (bare.id, True, True),
        (no_refresh.id, False, True),
    ]
    assert [gap.hold.id for gap in await store.active_holds_missing_timers(after=bare.id)] == [no_refresh.id]
    assert [gap.hold.id for gap in await store.active_holds_missing_timers(limit=1)] == [bare.id]
    await store.end_hold(bare.id, HoldStatus.ENDED, "test")
    assert [gap.hold.id for gap in await store.active_holds_missing_timers()] == [no_refresh.id]


# -- user leases (replicas acting for one user take turns) --------------------------------------------
async def test_a_user_lease_excludes_other_owners_until_released_or_expired(
    store: Store, clock: AdjustableClock
) -> None:
    lease = timedelta(seconds=30)
    assert await store.try_lease_user(ALEX, "replica-a", lease)
    assert not await store.try_lease_user(ALEX, "replica-b", lease)
    assert await store.try_lease_user(
        UserRef(user_id="someone-else", tenant_id=ALEX.tenant_id), "replica-b", lease
    )
    assert await store.try_lease_user(ALEX, "replica-a", lease), "the owner may renew"
    await store.release_user_lease(ALEX, "replica-b")  # not b's: nothing happens
    assert not await store.try_lease_user(ALEX, "replica-b", lease)
    await store.release_user_lease(ALEX, "replica-a")
    assert await store.try_lease_user(ALEX, "replica-b", lease)
    clock.advance(31)  # b died holding it
    assert await store.try_lease_user(ALEX, "replica-a", lease)


async def test_two_replicas_locks_never_act_for_one_user_at_once(store: Store) -> None:
    from bot.presence.locks import UserBusy, UserLocks

    replicas = [UserLocks(store, owner=f"replica-{n}") for n in range(2)]
    inside: list[str] = []
    overlaps: list[str] = []

    async def step(locks: UserLocks, name: str) -> None:
        async with locks.hold(ALEX):
            if inside:
                overlaps.append(f"{name} entered while {inside} was inside")
            inside.append(name)
            await asyncio.sleep(0.05)
            inside.remove(name)

    await asyncio.gather(*(step(replicas[n % 2], f"step-{n}") for n in range(8)))
    assert overlaps == []

    impatient = UserLocks(store, owner="replica-c", wait=timedelta(milliseconds=200))
    async with replicas[0].hold(ALEX):
        with pytest.raises(UserBusy):
            async with impatient.hold(ALEX):
                pass
    async with impatient.hold(ALEX):  # free again once released
        pass


async def test_leases_of_a_process_that_is_gone_can_be_released_at_once(store: Store) -> None:
    """A replica killed holding user leases: a process of the same host frees them on start."""
    import os
    import socket

    from bot.presence.locks import dead_local_owner, lease_owner

    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()  # its pid now names no running process
    gone = f"{socket.gethostname()}-{child.pid}-deadbeef"
    alive = lease_owner()
    elsewhere = f"another-host-{os.getpid()}-cafebabe"
    lease = timedelta(seconds=30)
    assert await store.try_lease_user(ALEX, gone, lease)
    assert await store.try_lease_user(BEN, alive, lease)
    assert await store.try_lease_user(EMULATOR, elsewhere, lease)
    assert [dead_local_owner(owner) for owner in (gone, alive, elsewhere)] == [True, False, False]
    assert await store.release_leases_of(dead_local_owner) == 1
    assert await store.try_lease_user(ALEX, alive, lease), "Alex's lease is free again"
    assert not await store.try_lease_user(EMULATOR, alive, lease), "another host's lease stands"
