"""The store's hold queries: starting, ending and refreshing holds, the timers tied to them, and
`commit`, which writes one command's effects (audit rows, the hold it starts or ends) in one
transaction."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.core.states import Layer
from bot.core.users import UserRef
from bot.store.engine import Database
from bot.store.people import DEDUP_WINDOW
from bot.store.records import (
    Effects,
    Hold,
    HoldStatus,
    NewHold,
    TimerKind,
    hold_timer_key,
)
from bot.store.rows import (
    audit_values,
    clip,
    hold_record,
    tenant_key,
)
from bot.store.schema import (
    UtcDateTime,
    audit_log,
    holds,
    processed_activities,
    timers,
)

log = logging.getLogger(__name__)

_REPLACE_TRIES = 3


class TimerGap(NamedTuple):
    """An active hold and which of its timers is missing (`Store.active_holds_missing_timers`)."""

    hold: Hold
    missing_end: bool
    missing_refresh: bool


class HoldQueries(Database):
    """Holds and their timers (part of `bot.store.store.Store`)."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        super().__init__(engine, clock)
        # Built once: constructing an upsert costs more than executing it.
        self._mark_processed = self.upsert(
            processed_activities,
            conflict=["activity_id"],
            update=lambda excluded: {"seen_at": excluded.seen_at},
            where=processed_activities.c.seen_at < sa.bindparam("cutoff"),
        ).returning(processed_activities.c.activity_id)
        self._schedule_timer = self._timer_upsert().returning(*timers.c)
        # A new hold's timers, all in one execution (nothing read back).
        self._schedule_timers = self._timer_upsert()
        self._insert_hold = sa.insert(holds).returning(*holds.c)
        self._insert_audit = sa.insert(audit_log)
        self._active_hold = sa.select(holds).where(
            holds.c.tenant_id == sa.bindparam("w_tenant"),
            holds.c.user_id == sa.bindparam("w_user"),
            holds.c.status == HoldStatus.ACTIVE.value,
        )
        self._end_active = (
            sa.update(holds)
            .where(
                holds.c.tenant_id == sa.bindparam("w_tenant"),
                holds.c.user_id == sa.bindparam("w_user"),
                holds.c.status == HoldStatus.ACTIVE.value,
            )
            .values(
                status=sa.bindparam("w_status", type_=sa.String),
                ended_at=sa.bindparam("w_now", type_=UtcDateTime),
                ended_reason=sa.bindparam("w_reason", type_=sa.String),
            )
            .returning(*holds.c)
        )
        self._delete_timers_of = sa.delete(timers).where(
            timers.c.hold_id.in_(sa.bindparam("w_holds", expanding=True))
        )

    def _timer_upsert(self) -> sa.Insert:
        return self.upsert(
            timers,
            conflict=["key"],
            update=lambda excluded: {
                "kind": excluded.kind,
                "payload": excluded.payload,
                "due_at": excluded.due_at,
                "hold_id": excluded.hold_id,
                "generation": timers.c.generation + 1,
                "attempts": 0,
                "lease_owner": None,
                "lease_until": None,
                "last_error": None,
                "created_at": excluded.created_at,
            },
        )

    # -- holds ---------------------------------------------------------------------------------------
    async def commit(self, effects: Effects) -> Hold | None:
        """Write everything one command changed, in one transaction: the audit of its Graph writes, the
        hold it started (the previous one ended and its timers deleted, the new one's timers scheduled)
        or the hold it ended, and the mark that its activity is processed. Returns the new hold, if any."""
        if not effects:
            return None
        return await self._committed(effects, HoldStatus.CANCELLED)

    async def _committed(self, effects: Effects, previous_status: HoldStatus) -> Hold | None:
        for attempt in range(1, _REPLACE_TRIES + 1):
            write = functools.partial(
                self._write_effects, effects=effects, previous_status=previous_status, now=self._clock.now()
            )
            try:
                return await self.run(write)
            except IntegrityError:
                # Another replica inserted an active hold for this user between our UPDATE and INSERT.
                if attempt == _REPLACE_TRIES:
                    raise
                log.info("concurrent hold replacement for a user; trying again (%d)", attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_effects(
        self, connection: sa.Connection, *, effects: Effects, previous_status: HoldStatus, now: datetime
    ) -> Hold | None:
        user = effects.user
        hold = None
        if effects.new_hold is not None:
            hold = self._replace_hold(
                connection, user, effects.new_hold, now=now, previous_status=previous_status
            )
        elif effects.end_hold is not None:
            status, reason = effects.end_hold
            self._end_active_hold(connection, user, status=status, reason=reason, now=now)
        if effects.audit:
            connection.execute(self._insert_audit, [audit_values(user, row, now) for row in effects.audit])
        if effects.activity_key is not None:
            self._mark_done(connection, effects.activity_key, now)
        return hold

    def _mark_done(self, connection: sa.Connection, activity_key: str, now: datetime) -> None:
        """Mark an activity processed (inside `commit`'s transaction): a redelivery within the dedup
        window is then skipped. A key older than the window is taken over."""
        values = {"activity_id": activity_key[:256], "seen_at": now, "cutoff": now - DEDUP_WINDOW}
        connection.execute(self._mark_processed, values)

    def _replace_hold(
        self,
        connection: sa.Connection,
        user: UserRef,
        new: NewHold,
        *,
        now: datetime,
        previous_status: HoldStatus,
    ) -> Hold:
        # Replacements for one user queue here instead of racing to the unique index.
        self.queue_for(connection, "hold", f"{tenant_key(user)}/{user.user_id}")
        self._end_active_hold(connection, user, status=previous_status, reason=new.reason, now=now)
        values = {
            "tenant_id": tenant_key(user),
            "user_id": user.user_id,
            "state": new.state,
            "layer": new.layer,
            "availability": new.availability,
            "activity": new.activity,
            "requested_end": new.requested_end,
            "created_at": now,
            "status": HoldStatus.ACTIVE.value,
            "ended_at": None,
            "ended_reason": None,
            "last_refresh_at": now if new.graph_expires_at else None,
            "graph_expires_at": new.graph_expires_at,
            "conversation_id": new.conversation_id[:512] if new.conversation_id else None,
        }
        hold = hold_record(connection.execute(self._insert_hold, values).one())
        if new.timers:
            connection.execute(
                self._schedule_timers,
                [
                    self._timer_values(
                        key=hold_timer_key(hold.id, timer.kind),
                        kind=timer.kind,
                        due_at=timer.due_at,
                        payload=timer.payload,
                        hold_id=hold.id,
                    )
                    for timer in new.timers
                ],
            )
        return hold

    def upsert_timer(
        self,
        connection: sa.Connection,
        *,
        key: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any],
        hold_id: int | None,
    ) -> sa.Row[Any]:
        """Create the timer `key`, or replace it (new due time, payload and generation; lease cleared),
        inside the caller's write transaction (`Database.run`; `bot.store.timers.TimerService.schedule`
        wakes the loop)."""
        values = self._timer_values(key=key, kind=kind, due_at=due_at, payload=payload, hold_id=hold_id)
        return connection.execute(self._schedule_timer, values).one()

    def _timer_values(
        self, *, key: str, kind: str, due_at: datetime, payload: Mapping[str, Any], hold_id: int | None
    ) -> dict[str, Any]:
        return {
            "key": key,
            "kind": str(kind),
            "payload": dict(payload),
            "due_at": due_at,
            "hold_id": hold_id,
            "generation": 1,
            "attempts": 0,
            "created_at": self._clock.now(),
        }

    async def get_active_hold(self, user: UserRef) -> Hold | None:
        where = {"w_tenant": tenant_key(user), "w_user": user.user_id}

        def read(connection: sa.Connection) -> Hold | None:
            row = connection.execute(self._active_hold, where).first()
            return hold_record(row) if row else None

        return await self.run(read, write=False)

    async def get_hold(self, hold_id: int) -> Hold | None:
        async with self.read() as connection:
            row = (await connection.execute(sa.select(holds).where(holds.c.id == hold_id))).first()
        return hold_record(row) if row else None

    async def active_holds_missing_timers(self, *, after: int = 0, limit: int = 1000) -> list[TimerGap]:
        """Active holds (id > `after`, in id order) lacking their end timer, or session holds lacking a
        refresh timer, with which one is missing: what a process killed between storing a hold and
        scheduling its timers leaves behind. A session hold in its last stretch needs no refresh; the
        caller decides."""
        end_timer = timers.alias("end_timer")
        refresh_timer = timers.alias("refresh_timer")
        missing_end = ~sa.exists().where(
            end_timer.c.hold_id == holds.c.id, end_timer.c.kind == TimerKind.END.value
        )
        missing_refresh = sa.and_(
            holds.c.layer == Layer.SESSION.value,
            holds.c.graph_expires_at.is_not(None),
            ~sa.exists().where(
                refresh_timer.c.hold_id == holds.c.id, refresh_timer.c.kind == TimerKind.REFRESH.value
            ),
        )
        statement = (
            sa.select(holds, missing_end.label("missing_end"), missing_refresh.label("missing_refresh"))
            .where(
                holds.c.status == HoldStatus.ACTIVE.value,
                holds.c.id > after,
                sa.or_(missing_end, missing_refresh),
            )
            .order_by(holds.c.id)
            .limit(limit)
        )
        async with self.read() as connection:
            rows = (await connection.execute(statement)).all()
        return [TimerGap(hold_record(row), bool(row.missing_end), bool(row.missing_refresh)) for row in rows]

    async def end_hold(self, hold_id: int, status: HoldStatus, reason: str) -> Hold | None:
        """End an active hold and delete its timers; `None` if it was not active (already ended)."""
        return await self._end_one(holds.c.id == hold_id, status, reason)

    async def _end_one(self, which: sa.ColumnElement[bool], status: HoldStatus, reason: str) -> Hold | None:
        if status is HoldStatus.ACTIVE:
            raise ValueError("a hold ends with a final status, not 'active'")
        now = self._clock.now()
        ended = await self.run(
            lambda connection: self._end_holds(connection, which, status=status, reason=reason, now=now)
        )
        return ended[0] if ended else None

    def _end_holds(
        self,
        connection: sa.Connection,
        which: sa.ColumnElement[bool],
        *,
        status: HoldStatus,
        reason: str,
        now: datetime,
    ) -> list[Hold]:
        rows = (
            connection.execute(
                sa.update(holds)
                .where(which, holds.c.status == HoldStatus.ACTIVE.value)
                .values(status=status.value, ended_at=now, ended_reason=clip(reason, 200))
                .returning(*holds.c)
            )
        ).all()
        return self._ended(connection, rows)

    def _end_active_hold(
        self, connection: sa.Connection, user: UserRef, *, status: HoldStatus, reason: str, now: datetime
    ) -> list[Hold]:
        """`_end_holds` for the user's active hold (at most one), with statements built once."""
        values = {
            "w_tenant": tenant_key(user),
            "w_user": user.user_id,
            "w_status": status.value,
            "w_now": now,
            "w_reason": clip(reason, 200),
        }
        return self._ended(connection, connection.execute(self._end_active, values).all())

    def _ended(self, connection: sa.Connection, rows: Sequence[sa.Row[Any]]) -> list[Hold]:
        """The holds just ended, their timers deleted."""
        ended = [hold_record(row) for row in rows]
        if ended:
            connection.execute(self._delete_timers_of, {"w_holds": [hold.id for hold in ended]})
        return ended

    async def update_hold_refresh(
        self, hold_id: int, at: datetime, graph_expires_at: datetime
    ) -> Hold | None:
        """Record that the hold's presence was set again at `at`, lasting until `graph_expires_at`.

        Returns `None` (and changes nothing) if the hold is no longer active.
        """
        async with self.write() as connection:
            row = (
                await connection.execute(
                    sa.update(holds)
                    .where(holds.c.id == hold_id, holds.c.status == HoldStatus.ACTIVE.value)
                    .values(last_refresh_at=at, graph_expires_at=graph_expires_at)
                    .returning(*holds.c)
                )
            ).first()
        return hold_record(row) if row else None
