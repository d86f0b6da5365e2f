"""Watches in the store, on SQLite and PostgreSQL: starting, extending, the per-user cap, cancelling,
ending once (a duplicated firing is a no-op), the audit of each, and what survives a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.clock import AdjustableClock
from bot.colleagues.ports import WatchCapReached
from bot.core.colleagues import Colleague, Watch, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.store import Store, open_store
from bot.store.schema import watches
from bot.store.watches import WatchTarget
from tests.support.store import end_watch, list_audit, tenant_watches

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-2222-3333-4444-555555555555"
ALEX = UserRef(user_id="aaaaaaaa-0000-0000-0000-000000000001", tenant_id=TENANT, name="Alex")
BLAKE = UserRef(user_id="bbbbbbbb-0000-0000-0000-000000000002", tenant_id=TENANT, name="Blake")
STRANGER = UserRef(user_id="cccccccc-0000-0000-0000-000000000003", tenant_id=OTHER_TENANT)
MEGAN = Colleague(aad_id="dddddddd-0000-0000-0000-000000000004", name="Megan Bowen", upn="megan@contoso.com")
NESTOR = Colleague(aad_id="eeeeeeee-0000-0000-0000-000000000005", name="Nestor Wilke")
HOUR = timedelta(hours=1)


def colleague(number: int) -> Colleague:
    return Colleague(aad_id=f"ffffffff-0000-0000-0000-{number:012d}", name=f"Colleague {number}")


async def watch(
    store: Store,
    clock: AdjustableClock,
    target: Colleague = MEGAN,
    *,
    watcher: UserRef = ALEX,
    kind: WatchKind = WatchKind.FREE,
    lasting: timedelta = HOUR,
    conversation_id: str | None = "19:chat",
    cap: int = 20,
) -> Watch:
    now = clock.now()
    return await store.add_watch(
        watcher, target, kind, ends_at=now + lasting, conversation_id=conversation_id, now=now, cap=cap
    )


async def watch_audit(store: Store, user: UserRef) -> list[tuple[str, str | None, str]]:
    """The user's watch audit rows, oldest first: (outcome, whom, kind)."""
    entries = [entry for entry in await list_audit(store, user) if entry.operation == "watch"]
    return [
        (entry.outcome, (entry.request or {})["target"].get("name"), (entry.request or {})["kind"])
        for entry in reversed(entries)
    ]


async def test_a_watch_is_listed_and_audited_with_whom_and_until_when(
    store: Store, store_clock: AdjustableClock
) -> None:
    started = await watch(store, store_clock)
    assert started.watcher == ALEX and started.target.aad_id == MEGAN.aad_id
    assert started.target.name == "Megan Bowen" and started.target.upn == "megan@contoso.com"
    assert started.target.tenant_id == TENANT
    assert started.kind is WatchKind.FREE and started.conversation_id == "19:chat"
    assert started.ended_at is None and started.end_reason is None
    assert await store.active_watches(ALEX) == [started]
    assert await store.active_watches(BLAKE) == []
    [entry] = await list_audit(store, ALEX)
    assert (entry.operation, entry.outcome) == ("watch", "started")
    assert entry.request == {
        "target": {"id": MEGAN.aad_id, "name": "Megan Bowen"},
        "kind": "free",
        "ends_at": started.ends_at.isoformat(),
    }
    counts = await store.counts()
    assert (counts.watches, counts.active_watches) == (1, 1)


async def test_asking_again_extends_the_watch_instead_of_adding_one(
    store: Store, store_clock: AdjustableClock
) -> None:
    first = await watch(store, store_clock, conversation_id="19:first")
    store_clock.advance(60)
    again = await watch(store, store_clock, lasting=3 * HOUR, conversation_id="19:second")
    assert again.id == first.id and again.created_at == first.created_at
    assert again.ends_at > first.ends_at + HOUR and again.conversation_id == "19:second"
    back = await watch(store, store_clock, kind=WatchKind.BACK)  # another kind is another watch
    assert back.id != first.id
    assert [w.id for w in await store.active_watches(ALEX)] == [first.id, back.id]
    assert await watch_audit(store, ALEX) == [
        ("started", "Megan Bowen", "free"),
        ("extended", "Megan Bowen", "free"),
        ("started", "Megan Bowen", "back"),
    ]


async def test_the_cap_refuses_a_new_watch_but_not_an_extension(
    store: Store, store_clock: AdjustableClock
) -> None:
    for number in range(3):
        await watch(store, store_clock, colleague(number), cap=3)
    with pytest.raises(WatchCapReached) as refused:
        await watch(store, store_clock, NESTOR, cap=3)
    assert refused.value.cap == 3
    assert len(await store.active_watches(ALEX)) == 3
    assert len(await watch_audit(store, ALEX)) == 3  # the refusal wrote nothing
    extended = await watch(store, store_clock, colleague(1), lasting=2 * HOUR, cap=3)
    assert extended.target.aad_id == colleague(1).aad_id
    assert extended.ends_at - store_clock.now() > HOUR
    await watch(store, store_clock, NESTOR, watcher=BLAKE, cap=3)  # the cap is per watcher
    await store.cancel_watches(ALEX, colleague(0).aad_id, now=store_clock.now())
    assert (await watch(store, store_clock, NESTOR, cap=3)).target.aad_id == NESTOR.aad_id


async def test_concurrent_watches_of_one_user_keep_to_the_cap(
    store: Store, store_clock: AdjustableClock
) -> None:
    results = await asyncio.gather(
        *(watch(store, store_clock, colleague(number), cap=3) for number in range(6)), return_exceptions=True
    )
    assert sum(isinstance(result, Watch) for result in results) == 3
    assert sum(isinstance(result, WatchCapReached) for result in results) == 3
    assert len(await store.active_watches(ALEX)) == 3


async def test_cancel_one_or_all_and_each_is_audited(store: Store, store_clock: AdjustableClock) -> None:
    megan = await watch(store, store_clock, MEGAN)
    nestor = await watch(store, store_clock, NESTOR)
    back = await watch(store, store_clock, NESTOR, kind=WatchKind.BACK)
    blakes = await watch(store, store_clock, NESTOR, watcher=BLAKE)
    now = store_clock.now()
    cancelled = await store.cancel_watches(ALEX, NESTOR.aad_id, now=now)
    assert [w.id for w in cancelled] == [nestor.id, back.id]
    assert all(w.end_reason is WatchEnd.CANCELLED and w.ended_at == now for w in cancelled)
    assert await store.active_watches(ALEX) == [megan]
    assert await store.cancel_watches(ALEX, NESTOR.aad_id, now=now) == []  # nothing left to cancel
    assert [w.id for w in await store.cancel_watches(ALEX, None, now=now)] == [megan.id]
    assert await store.active_watches(ALEX) == []
    assert await store.active_watches(BLAKE) == [blakes]  # someone else's watch of Nestor stays
    outcomes = [outcome for outcome, _, _ in await watch_audit(store, ALEX)]
    assert outcomes == ["started"] * 3 + ["cancelled"] * 3


async def test_a_watch_ends_once_however_often_it_fires(store: Store, store_clock: AdjustableClock) -> None:
    started = await watch(store, store_clock)
    now = store_clock.now()
    results = await asyncio.gather(*(end_watch(store, started.id, WatchEnd.FIRED, now=now) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert not await end_watch(store, started.id, WatchEnd.EXPIRED, now=now)
    assert await store.active_watches(ALEX) == []
    assert await watch_audit(store, ALEX) == [
        ("started", "Megan Bowen", "free"),
        ("fired", "Megan Bowen", "free"),
    ]
    fired = [entry for entry in await list_audit(store, ALEX) if entry.outcome == "fired"]
    assert fired[0].at == now  # when it fired


async def test_finish_watches_ends_only_those_still_active(
    store: Store, store_clock: AdjustableClock
) -> None:
    ids = [(await watch(store, store_clock, colleague(number))).id for number in range(5)]
    now = store_clock.now()

    async def ended(watch_ids: list[int], reason: WatchEnd) -> set[int]:
        return {w.id for w in await store.finish_watches(watch_ids, reason, now=now)}

    assert await ended(ids[:2], WatchEnd.FIRED) == set(ids[:2])
    assert await ended(ids, WatchEnd.EXPIRED) == set(ids[2:])
    assert await ended([], WatchEnd.FIRED) == set()


async def test_the_tenant_poll_sees_watches_past_their_end_the_watcher_no_longer_does(
    store: Store, store_clock: AdjustableClock
) -> None:
    short = await watch(store, store_clock, MEGAN, lasting=timedelta(minutes=5))
    long = await watch(store, store_clock, NESTOR, lasting=HOUR)
    elsewhere = await watch(store, store_clock, MEGAN, watcher=STRANGER)
    store_clock.advance(600)
    assert await store.active_watches(ALEX) == [long]
    assert [w.id for w in await tenant_watches(store, TENANT)] == [short.id, long.id]
    assert [w.id for w in await tenant_watches(store, OTHER_TENANT)] == [elsewhere.id]
    assert await store.watch_tenants() == sorted([TENANT, OTHER_TENANT])
    assert await store.tenant_has_watches(OTHER_TENANT)
    await store.cancel_watches(STRANGER, None, now=store_clock.now())
    assert await store.watch_tenants() == [TENANT]
    assert not await store.tenant_has_watches(OTHER_TENANT)

    # Asking again for a watch past its end (not yet expired by a poll) starts a new one.
    renewed = await watch(store, store_clock, MEGAN)
    assert renewed.id != short.id
    outcomes = [(outcome, name) for outcome, name, _ in await watch_audit(store, ALEX)]
    assert outcomes[-2:] == [("expired", "Megan Bowen"), ("started", "Megan Bowen")]


async def test_the_database_allows_one_active_watch_per_watcher_colleague_and_kind(
    store: Store, store_clock: AdjustableClock
) -> None:
    started = await watch(store, store_clock)
    row = {
        "tenant_id": TENANT,
        "user_id": ALEX.user_id,
        "target_id": MEGAN.aad_id,
        "target_name": MEGAN.name,
        "kind": "free",
        "created_at": store_clock.now(),
        "ends_at": store_clock.now() + HOUR,
    }
    with pytest.raises(IntegrityError):
        async with store.write() as connection:
            await connection.execute(sa.insert(watches).values(row))
    await end_watch(store, started.id, WatchEnd.FIRED, now=store_clock.now())
    async with store.write() as connection:  # an ended watch does not count
        await connection.execute(sa.insert(watches).values(row))


async def test_a_watch_survives_a_restart(
    store_url: str, tmp_path: Path, store_clock: AdjustableClock
) -> None:
    first = await open_store(store_url, tmp_path, store_clock)
    try:
        started = await watch(first, store_clock, conversation_id=None)
    finally:
        await first.close()
    reopened = await open_store(store_url, tmp_path, store_clock)
    try:
        assert await reopened.active_watches(ALEX) == [started]
        assert [w.id for w in await tenant_watches(reopened, TENANT)] == [started.id]
    finally:
        await reopened.close()


async def test_a_watch_must_end_after_it_starts(store: Store, store_clock: AdjustableClock) -> None:
    with pytest.raises(ValueError, match="ends after"):
        await watch(store, store_clock, lasting=timedelta(0))


async def test_a_poll_reads_running_watches_lean_and_expires_the_rest_once(
    store: Store, store_clock: AdjustableClock
) -> None:
    short = await watch(store, store_clock, MEGAN, lasting=timedelta(minutes=5))
    long = await watch(store, store_clock, NESTOR, kind=WatchKind.BACK)
    await watch(store, store_clock, MEGAN, watcher=STRANGER)
    store_clock.advance(600)
    now = store_clock.now()
    assert await store.tenant_watch_targets(TENANT, now=now) == [
        WatchTarget(long.id, NESTOR.aad_id, WatchKind.BACK)
    ]
    [expired] = await store.expire_watches(TENANT, now=now)
    assert (expired.id, expired.end_reason, expired.ended_at) == (short.id, WatchEnd.EXPIRED, now)
    assert expired.target.name == "Megan Bowen" and expired.watcher == ALEX  # all a notice needs
    assert await store.expire_watches(TENANT, now=now) == []
    [fired] = await store.finish_watches([long.id, short.id], WatchEnd.FIRED, now=now)
    assert fired.id == long.id and fired.end_reason is WatchEnd.FIRED
    assert await store.tenant_watch_targets(TENANT, now=now) == []
