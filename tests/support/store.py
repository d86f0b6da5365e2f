"""Store reads and writes only tests need: the product starts and ends holds through `Store.commit`, reads
audit rows per privacy request (`Store.user_audit`) and polls watches by tenant (`tenant_watch_targets`).

    from tests.support.store import list_audit, list_holds, start_hold

    hold = await start_hold(store, ALEX, state="busy", layer="session", availability="Busy",
                            activity="InACall", requested_end=None)
    [entry] = await list_audit(store, ALEX)
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import sqlalchemy as sa

from bot.core.colleagues import Watch, WatchEnd
from bot.core.users import UserRef
from bot.store import Store
from bot.store.records import AuditEntry, Effects, Hold, NewHold
from bot.store.rows import audit_record, hold_record, tenant_key, watch_record
from bot.store.schema import audit_log, holds, watches
from bot.store.timers import TimerService


async def start_hold(
    store: Store,
    user: UserRef,
    *,
    state: str,
    layer: str,
    availability: str,
    activity: str,
    requested_end: datetime | None,
    graph_expires_at: datetime | None = None,
    reason: str = "replaced by a new hold",
) -> Hold:
    """Start a hold for `user` as a command does (`Store.commit`): their active one is cancelled with
    `reason`, its timers deleted, in one transaction. No timers are scheduled for the new one."""
    new = NewHold(state, layer, availability, activity, requested_end, graph_expires_at, (), reason)
    hold = await store.commit(Effects(user, new_hold=new))
    assert hold is not None
    return hold


async def list_holds(store: Store, user: UserRef, limit: int = 20) -> list[Hold]:
    """The user's holds, newest first."""
    statement = (
        sa.select(holds)
        .where(holds.c.tenant_id == tenant_key(user), holds.c.user_id == user.user_id)
        .order_by(holds.c.created_at.desc(), holds.c.id.desc())
        .limit(limit)
    )
    async with store.read() as connection:
        rows = (await connection.execute(statement)).all()
    return [hold_record(row) for row in rows]


async def list_audit(store: Store, user: UserRef, limit: int = 50) -> list[AuditEntry]:
    """The user's audit entries (in their tenant, ids compared exactly), newest first."""
    statement = (
        sa.select(audit_log)
        .where(audit_log.c.tenant_id == tenant_key(user), audit_log.c.user_id == user.user_id)
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    async with store.read() as connection:
        rows = (await connection.execute(statement)).all()
    return [audit_record(row) for row in rows]


async def tenant_watches(store: Store, tenant_id: str | None) -> list[Watch]:
    """Every watch of the tenant not ended yet, including those past their end, in id order."""
    statement = (
        sa.select(watches)
        .where(watches.c.tenant_id == (tenant_id or ""), watches.c.ended_at.is_(None))
        .order_by(watches.c.id)
    )
    async with store.read() as connection:
        rows = (await connection.execute(statement)).all()
    return [watch_record(row) for row in rows]


async def end_watch(store: Store, watch_id: int, reason: WatchEnd, *, now: datetime) -> bool:
    """End one watch as the watcher does (`Store.finish_watches`); False if it had ended already."""
    return watch_id in {watch.id for watch in await store.finish_watches([watch_id], reason, now=now)}


async def run_due(service: TimerService) -> int:
    """Claim and fire what is due now on a timer service that is not started, waiting for the handlers;
    returns how many fired (a started service does this by itself)."""
    fired = 0
    while True:
        claimed = await service.claim()
        if not claimed:
            return fired
        await asyncio.gather(*(service._fire(timer) for timer in claimed))
        fired += len(claimed)
