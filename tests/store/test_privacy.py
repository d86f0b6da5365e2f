"""Retention and privacy requests in the store, on SQLite and PostgreSQL: pruning in bounded batches,
one user's audit, and forgetting one user without touching anyone else (their watches, and others'
watches on them, included)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from bot.clock import AdjustableClock
from bot.core.colleagues import Colleague, Watch, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.store import HoldStatus, Store
from bot.store.records import SavedConversation
from tests.support.store import end_watch, list_audit, start_hold, tenant_watches

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-2222-3333-4444-555555555555"
ALEX = UserRef(user_id="aaaaaaaa-0000-0000-0000-000000000001", tenant_id=TENANT)
ALEX_ELSEWHERE = UserRef(user_id=ALEX.user_id, tenant_id=OTHER_TENANT)
BLAKE = UserRef(user_id="bbbbbbbb-0000-0000-0000-000000000002", tenant_id=TENANT)


async def audit(store: Store, user: UserRef, count: int, operation: str = "setPresence") -> None:
    for _ in range(count):
        await store.record_audit(user, operation=operation, outcome="ok", status_code=200)


async def hold(store: Store, user: UserRef, clock: AdjustableClock) -> int:
    started = await start_hold(
        store,
        user,
        state="busy",
        layer="session",
        availability="Busy",
        activity="Busy",
        requested_end=clock.now() + timedelta(hours=1),
    )
    return started.id


@contextmanager
def deletes_of(store: Store, table: str) -> Iterator[list[int]]:
    """The row count of each DELETE from `table` run while inside (one per transaction in `prune`)."""
    counts: list[int] = []

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(f"DELETE FROM {table.upper()}"):
            counts.append(cursor.rowcount)

    for engine in store.engines:
        event.listen(engine, "after_cursor_execute", after)
    try:
        yield counts
    finally:
        for engine in store.engines:
            event.remove(engine, "after_cursor_execute", after)


async def test_prune_removes_only_audit_entries_older_than_the_cutoff_in_bounded_batches(
    store: Store, store_clock: AdjustableClock
) -> None:
    await audit(store, ALEX, 10)
    store_clock.advance(timedelta(days=91).total_seconds())
    await audit(store, ALEX, 2, operation="clearPresence")
    with deletes_of(store, "audit_log") as batches:
        report = await store.prune(store_clock.now() - timedelta(days=90), batch=4)
    assert report.audit_entries == 10
    assert batches == [4, 4, 2]  # one transaction per batch, none larger than the batch
    left = await store.user_audit(ALEX.user_id)
    assert [entry.operation for entry in left] == ["clearPresence", "clearPresence"]
    again = await store.prune(store_clock.now() - timedelta(days=90), batch=4)
    assert again.audit_entries == 0 and again.ended_holds == 0


async def test_prune_removes_holds_that_ended_before_the_cutoff_and_never_an_active_one(
    store: Store, store_clock: AdjustableClock
) -> None:
    first = await hold(store, ALEX, store_clock)
    second = await hold(store, ALEX, store_clock)  # ends the first (cancelled, ended now)
    long_running = await hold(store, BLAKE, store_clock)  # active, started long ago
    store_clock.advance(timedelta(days=100).total_seconds())
    third = await hold(store, ALEX, store_clock)  # ends the second, today
    report = await store.prune(store_clock.now() - timedelta(days=90))
    assert report.ended_holds == 1
    assert await store.get_hold(first) is None
    ended_recently = await store.get_hold(second)
    assert ended_recently is not None and ended_recently.status is HoldStatus.CANCELLED
    for active in (long_running, third):
        kept = await store.get_hold(active)
        assert kept is not None and kept.is_active


async def test_user_audit_is_newest_first_and_can_name_a_tenant(store: Store) -> None:
    await audit(store, ALEX, 1, operation="setPresence")
    await audit(store, ALEX_ELSEWHERE, 1, operation="setUserPreferredPresence")
    await audit(store, ALEX, 1, operation="clearPresence")
    await audit(store, BLAKE, 1)
    everywhere = await store.user_audit(ALEX.user_id)
    assert [e.operation for e in everywhere] == ["clearPresence", "setUserPreferredPresence", "setPresence"]
    # An id typed by an admin finds the rows whatever case it is typed in.
    here = await store.user_audit(ALEX.user_id.upper(), TENANT.upper())
    assert [e.operation for e in here] == ["clearPresence", "setPresence"]
    assert {e.tenant_id for e in here} == {TENANT}


async def remember_everything(store: Store, user: UserRef, clock: AdjustableClock) -> None:
    """A user who has used the bot: settings, a reference, holds with timers, audit rows, a lease."""
    conversation = SavedConversation(f"a:{user.user_id}:{user.tenant_id}", "personal", {"serviceUrl": "x"})
    await store.record_turn(user, activity_key=None, conversation=conversation, reported_zone="Europe/Paris")
    await store.set_notices_enabled(user, False)
    await hold(store, user, clock)
    held = await hold(store, user, clock)  # the first one ends: two holds, one active
    await store.run(
        lambda connection: store.upsert_timer(
            connection, key=f"hold:{held}:end", kind="end", due_at=clock.now(), payload={}, hold_id=held
        )
    )
    await audit(store, user, 3)
    assert await store.try_lease_user(user, "replica-a", timedelta(seconds=30))


async def counts_for(store: Store, user: UserRef) -> dict[str, int]:
    from bot.store.schema import audit_log, conversation_references, holds, user_leases, users

    found: dict[str, int] = {}
    async with store.read() as connection:
        for table in (users, holds, conversation_references, audit_log, user_leases):
            found[table.name] = int(
                await connection.scalar(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.user_id == user.user_id, table.c.tenant_id == (user.tenant_id or ""))
                )
                or 0
            )
    return found


@pytest.mark.parametrize("tenant_given", [True, False], ids=["one-tenant", "every-tenant"])
async def test_forget_user_removes_everything_about_them_and_nothing_else(
    store: Store, store_clock: AdjustableClock, tenant_given: bool
) -> None:
    for user in (ALEX, ALEX_ELSEWHERE, BLAKE):
        await remember_everything(store, user, store_clock)
    blake_before = await counts_for(store, BLAKE)
    timers_before = (await store.counts()).timers

    report = await store.forget_user(ALEX.user_id, TENANT if tenant_given else None)

    tenants = 1 if tenant_given else 2
    assert report.users == tenants
    assert report.holds == 2 * tenants and report.active_holds == tenants
    assert report.conversation_references == tenants
    assert report.audit_entries == 3 * tenants
    assert report.user_leases == tenants
    assert report.timers == tenants  # their active hold's timer, gone with it
    assert await counts_for(store, ALEX) == dict.fromkeys(blake_before, 0)
    assert await counts_for(store, BLAKE) == blake_before  # someone else's data is untouched
    elsewhere = await counts_for(store, ALEX_ELSEWHERE)
    assert (sum(elsewhere.values()) > 0) is tenant_given
    assert await store.get_active_hold(ALEX) is None
    assert (await store.counts()).timers == timers_before - report.timers
    again = await store.forget_user(ALEX.user_id, TENANT if tenant_given else None)
    assert again.total == 0


# -- watches -------------------------------------------------------------------------------------------
MEGAN = Colleague(aad_id="dddddddd-0000-0000-0000-000000000004", name="Megan Bowen")


def as_colleague(user: UserRef, name: str) -> Colleague:
    return Colleague(aad_id=user.user_id, name=name)


async def watch(store: Store, clock: AdjustableClock, watcher: UserRef, target: Colleague) -> Watch:
    now = clock.now()
    return await store.add_watch(
        watcher,
        target,
        WatchKind.FREE,
        ends_at=now + timedelta(hours=8),
        conversation_id=None,
        now=now,
        cap=20,
    )


async def test_prune_removes_watches_that_ended_before_the_cutoff_and_never_an_active_one(
    store: Store, store_clock: AdjustableClock
) -> None:
    fired = await watch(store, store_clock, ALEX, MEGAN)
    await end_watch(store, fired.id, WatchEnd.FIRED, now=store_clock.now())
    cancelled = await watch(store, store_clock, BLAKE, MEGAN)
    await store.cancel_watches(BLAKE, None, now=store_clock.now())
    store_clock.advance(timedelta(days=100).total_seconds())
    recent = await watch(store, store_clock, ALEX, MEGAN)
    await end_watch(store, recent.id, WatchEnd.EXPIRED, now=store_clock.now())
    active = await watch(store, store_clock, BLAKE, MEGAN)

    report = await store.prune(store_clock.now() - timedelta(days=90), batch=1)

    assert report.ended_watches == 2
    left = {w.id for w in await tenant_watches(store, TENANT)}
    assert left == {active.id}
    counts = await store.counts()
    assert (counts.watches, counts.active_watches) == (2, 1)  # the recently ended one and the active one
    assert fired.id not in left and cancelled.id not in left


async def test_forget_removes_their_watches_and_everyones_watches_on_them(
    store: Store, store_clock: AdjustableClock
) -> None:
    await watch(store, store_clock, ALEX, MEGAN)  # Alex watches Megan
    on_alex = await watch(store, store_clock, BLAKE, as_colleague(ALEX, "Alex Wilber"))  # Blake watches Alex
    blakes_other = await watch(store, store_clock, BLAKE, MEGAN)
    await end_watch(store, on_alex.id, WatchEnd.FIRED, now=store_clock.now())  # two audit rows name Alex
    alex_exported = await store.user_audit(ALEX.user_id, TENANT)
    assert [(e.operation, e.outcome) for e in alex_exported] == [("watch", "started")]  # the export has it

    report = await store.forget_user(ALEX.user_id.upper(), TENANT)

    assert report.watches == 2  # Alex's watch of Megan, and Blake's (ended) watch of Alex
    assert report.audit_mentions == 2
    assert await store.active_watches(ALEX) == []
    assert [w.id for w in await tenant_watches(store, TENANT)] == [blakes_other.id]
    blakes_audit = [entry.request for entry in await list_audit(store, BLAKE)]
    assert len(blakes_audit) == 3  # Blake's rows stay, without Alex's name or id
    assert ALEX.user_id not in repr(blakes_audit) and "Alex Wilber" not in repr(blakes_audit)
    assert sum(request == {**(request or {}), "target": {"forgotten": True}} for request in blakes_audit) == 2
    assert sum("Megan Bowen" in repr(request) for request in blakes_audit) == 1
    again = await store.forget_user(ALEX.user_id, TENANT)
    assert again.total == 0
