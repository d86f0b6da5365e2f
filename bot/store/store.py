"""The durable store: SQLite by default, PostgreSQL when a URL says so.

Everything the bot must remember across restarts and replicas lives here: users' time zones and notice
preference, holds (states the bot keeps re-setting until the user's requested end), conversation
references for proactive messages, the ids of activities already handled, and an audit of every Graph
write. Timers share the database and are driven by `bot.store.timers.TimerService`.

Times come from the injected `Clock`, never from the database, so the simulator can move time forward.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock
from bot.core.states import Layer
from bot.core.users import UserRef
from bot.store.engine import Database, open_engine
from bot.store.records import (
    AuditEntry,
    AuditRow,
    ConversationReferenceRecord,
    Effects,
    Hold,
    HoldStatus,
    NewHold,
    SavedConversation,
    StoreCounts,
    TimerKind,
    TurnRecord,
    UserSettings,
    hold_timer_key,
)
from bot.store.schema import (
    audit_log,
    conversation_references,
    holds,
    processed_activities,
    timers,
    user_leases,
    users,
)

log = logging.getLogger(__name__)

# Teams redelivers an activity when the bot is slow to answer; a redelivery inside this window is skipped.
DEDUP_WINDOW = timedelta(minutes=10)
_PRUNE_EVERY = timedelta(minutes=1)
_REPLACE_TRIES = 3
_USER_HOLD_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('presence-bot:hold'), hashtext(:user))")


async def open_store(url: str | None, data_dir: Path, clock: Clock) -> Store:
    """Open (and migrate to head) the store: SQLite in `data_dir` by default, or the database `url` names
    (see `bot.store.engine.open_engine`)."""
    return Store(await open_engine(url, data_dir), clock)


def _tenant(user: UserRef) -> str:
    # The Emulator has no tenant; the key column cannot be NULL, so "" stands for "no tenant".
    return user.tenant_id or ""


def _tenant_out(value: str) -> str | None:
    return value or None


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


class TimerGap(NamedTuple):
    """An active hold and which of its timers is missing (`Store.active_holds_missing_timers`)."""

    hold: Hold
    missing_end: bool
    missing_refresh: bool


class Store(Database):
    """Typed access to the bot's durable state. Create with `open_store`; close with `close()`."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        super().__init__(engine, clock)
        self._last_prune: datetime | None = None
        self._set_time_zone = self.upsert(
            users,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {
                "time_zone": excluded.time_zone,
                "time_zone_explicit": excluded.time_zone_explicit,
                "updated_at": excluded.updated_at,
            },
        ).returning(*users.c)
        # A zone Teams reported replaces only a zone Teams reported, never one the user chose.
        self._remember_time_zone = self.upsert(
            users,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {"time_zone": excluded.time_zone, "updated_at": excluded.updated_at},
            where=sa.and_(
                users.c.time_zone_explicit == sa.false(),
                users.c.time_zone.is_distinct_from(sa.literal_column("excluded.time_zone")),
            ),
        ).returning(*users.c)
        self._set_notices = self._user_upsert("notices_enabled")
        self._save_reference = self.upsert(
            conversation_references,
            conflict=["tenant_id", "user_id", "conversation_id"],
            update=lambda excluded: {
                "conversation_type": excluded.conversation_type,
                "reference": excluded.reference,
                "updated_at": excluded.updated_at,
            },
        ).returning(*conversation_references.c)
        self._mark_processed = self.upsert(
            processed_activities,
            conflict=["activity_id"],
            update=lambda excluded: {"seen_at": excluded.seen_at},
            where=processed_activities.c.seen_at < sa.bindparam("cutoff"),
        ).returning(processed_activities.c.activity_id)

        # Built once: constructing an upsert costs more than executing it.
        self._schedule_timer = self.upsert(
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
        ).returning(*timers.c)
        self._take_lease = self.upsert(
            user_leases,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {"owner": excluded.owner, "lease_until": excluded.lease_until},
            where=sa.or_(
                user_leases.c.lease_until < sa.bindparam("now"), user_leases.c.owner == sa.bindparam("me")
            ),
        ).returning(user_leases.c.owner)

    def _user_upsert(self, column: str) -> sa.Insert:
        return self.upsert(
            users,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {column: excluded[column], "updated_at": excluded.updated_at},
        ).returning(*users.c)

    # -- users ---------------------------------------------------------------------------------------
    async def get_user(self, user: UserRef) -> UserSettings | None:
        async with self.read() as connection:
            row = (
                await connection.execute(
                    sa.select(users).where(
                        users.c.tenant_id == _tenant(user), users.c.user_id == user.user_id
                    )
                )
            ).first()
        return _user(row) if row else None

    async def set_time_zone(self, user: UserRef, time_zone: str | None) -> UserSettings:
        """The zone the user chose with /timezone (None: follow what Teams reports again)."""
        return await self._upsert_user(
            self._set_time_zone, user, {"time_zone": time_zone, "time_zone_explicit": time_zone is not None}
        )

    async def remember_time_zone(self, user: UserRef, time_zone: str) -> None:
        """The zone Teams reported on an activity: kept for notices, unless the user chose one."""
        values = {
            "tenant_id": _tenant(user),
            "user_id": user.user_id,
            "updated_at": self._clock.now(),
            "time_zone": time_zone,
            "time_zone_explicit": False,
        }
        async with self.write() as connection:
            await connection.execute(self._remember_time_zone, values)

    async def set_notices_enabled(self, user: UserRef, enabled: bool) -> UserSettings:
        """Whether the bot may message the user proactively (e.g. when a hold ends or fails)."""
        return await self._upsert_user(self._set_notices, user, {"notices_enabled": enabled})

    async def _upsert_user(self, statement: sa.Insert, user: UserRef, change: dict[str, Any]) -> UserSettings:
        values = {
            "tenant_id": _tenant(user),
            "user_id": user.user_id,
            "updated_at": self._clock.now(),
            **change,
        }
        async with self.write() as connection:
            row = (await connection.execute(statement, values)).one()
        return _user(row)

    # -- holds ---------------------------------------------------------------------------------------
    async def replace_active_hold(
        self,
        user: UserRef,
        *,
        state: str,
        layer: str,
        availability: str,
        activity: str,
        requested_end: datetime | None,
        graph_expires_at: datetime | None = None,
        reason: str = "replaced by a new hold",
        previous_status: HoldStatus = HoldStatus.CANCELLED,
    ) -> Hold:
        """Start a hold for `user`, ending their active one (status `previous_status`, `reason`).

        In one transaction: the previous hold is ended, its timers are deleted, the new hold is
        inserted. Concurrent replacements for one user all succeed, one after the other (a per-user
        advisory lock on PostgreSQL, the single writer on SQLite); the partial unique index is the
        backstop, and a conflict with it is retried.
        """
        if previous_status is HoldStatus.ACTIVE:
            raise ValueError("the previous hold must end with a final status")
        new = NewHold(state, layer, availability, activity, requested_end, graph_expires_at, (), reason)
        hold = await self._committed(Effects(user, new_hold=new), previous_status)
        assert hold is not None
        return hold

    async def commit(self, effects: Effects) -> Hold | None:
        """Write everything one command changed, in one transaction: the audit of its Graph writes, and
        the hold it started (the previous one ended and its timers deleted, the new one's timers
        scheduled) or the hold it ended. Returns the new hold, if it started one."""
        if not effects:
            return None
        return await self._committed(effects, HoldStatus.CANCELLED)

    async def _committed(self, effects: Effects, previous_status: HoldStatus) -> Hold | None:
        user = effects.user
        for attempt in range(1, _REPLACE_TRIES + 1):
            now = self._clock.now()
            try:
                async with self.write() as connection:
                    hold = None
                    if effects.new_hold is not None:
                        hold = await self._replace_hold(
                            connection, user, effects.new_hold, now=now, previous_status=previous_status
                        )
                    elif effects.end_hold is not None:
                        status, reason = effects.end_hold
                        await self._end_holds(
                            connection, _active_of(user), status=status, reason=reason, now=now
                        )
                    if effects.audit:
                        await connection.execute(
                            sa.insert(audit_log), [_audit_values(user, row, now) for row in effects.audit]
                        )
                return hold
            except IntegrityError:
                # Another replica inserted an active hold for this user between our UPDATE and INSERT.
                if attempt == _REPLACE_TRIES:
                    raise
                log.info("concurrent hold replacement for a user; trying again (%d)", attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _replace_hold(
        self,
        connection: AsyncConnection,
        user: UserRef,
        new: NewHold,
        *,
        now: datetime,
        previous_status: HoldStatus,
    ) -> Hold:
        if self.dialect == "postgresql":
            # Replacements for one user queue here instead of racing to the unique index.
            await connection.execute(_USER_HOLD_LOCK, {"user": f"{_tenant(user)}/{user.user_id}"})
        await self._end_holds(
            connection, _active_of(user), status=previous_status, reason=new.reason, now=now
        )
        row = (
            await connection.execute(
                sa.insert(holds)
                .values(
                    tenant_id=_tenant(user),
                    user_id=user.user_id,
                    state=new.state,
                    layer=new.layer,
                    availability=new.availability,
                    activity=new.activity,
                    requested_end=new.requested_end,
                    created_at=now,
                    status=HoldStatus.ACTIVE.value,
                    last_refresh_at=now if new.graph_expires_at else None,
                    graph_expires_at=new.graph_expires_at,
                )
                .returning(*holds.c)
            )
        ).one()
        hold = _hold(row)
        for timer in new.timers:
            await self.upsert_timer(
                connection,
                key=hold_timer_key(hold.id, timer.kind),
                kind=timer.kind,
                due_at=timer.due_at,
                payload=timer.payload,
                hold_id=hold.id,
            )
        return hold

    async def upsert_timer(
        self,
        connection: AsyncConnection,
        *,
        key: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any],
        hold_id: int | None,
    ) -> sa.Row[Any]:
        """Create the timer `key`, or replace it (new due time, payload and generation; lease cleared),
        inside the caller's write transaction (`bot.store.timers.TimerService.schedule` wakes the loop)."""
        values = {
            "key": key,
            "kind": str(kind),
            "payload": dict(payload),
            "due_at": due_at,
            "hold_id": hold_id,
            "generation": 1,
            "attempts": 0,
            "created_at": self._clock.now(),
        }
        return (await connection.execute(self._schedule_timer, values)).one()

    async def get_active_hold(self, user: UserRef) -> Hold | None:
        async with self.read() as connection:
            row = (await connection.execute(sa.select(holds).where(_active_of(user)))).first()
        return _hold(row) if row else None

    async def get_hold(self, hold_id: int) -> Hold | None:
        async with self.read() as connection:
            row = (await connection.execute(sa.select(holds).where(holds.c.id == hold_id))).first()
        return _hold(row) if row else None

    async def list_holds(self, user: UserRef, limit: int = 20) -> list[Hold]:
        """The user's holds, newest first."""
        statement = (
            sa.select(holds)
            .where(holds.c.tenant_id == _tenant(user), holds.c.user_id == user.user_id)
            .order_by(holds.c.created_at.desc(), holds.c.id.desc())
            .limit(limit)
        )
        async with self.read() as connection:
            rows = (await connection.execute(statement)).all()
        return [_hold(row) for row in rows]

    async def list_active_holds(self, limit: int = 1000) -> list[Hold]:
        """Active holds, oldest first (e.g. to reconcile after a restart)."""
        statement = (
            sa.select(holds)
            .where(holds.c.status == HoldStatus.ACTIVE.value)
            .order_by(holds.c.id)
            .limit(limit)
        )
        async with self.read() as connection:
            rows = (await connection.execute(statement)).all()
        return [_hold(row) for row in rows]

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
        return [TimerGap(_hold(row), bool(row.missing_end), bool(row.missing_refresh)) for row in rows]

    # -- user leases ------------------------------------------------------------------------------------
    async def try_lease_user(self, user: UserRef, owner: str, lease: timedelta) -> bool:
        """Take (or renew) `owner`'s lease on the user unless another owner holds an unexpired one."""
        now = self._clock.now()
        values = {
            "tenant_id": _tenant(user),
            "user_id": user.user_id,
            "owner": owner,
            "lease_until": now + lease,
            "now": now,
            "me": owner,
        }
        async with self.write() as connection:
            return (await connection.execute(self._take_lease, values)).first() is not None

    async def release_user_lease(self, user: UserRef, owner: str) -> None:
        async with self.write() as connection:
            await connection.execute(
                sa.delete(user_leases).where(
                    user_leases.c.tenant_id == _tenant(user),
                    user_leases.c.user_id == user.user_id,
                    user_leases.c.owner == owner,
                )
            )

    async def end_hold(self, hold_id: int, status: HoldStatus, reason: str) -> Hold | None:
        """End an active hold and delete its timers; `None` if it was not active (already ended)."""
        return await self._end_one(holds.c.id == hold_id, status, reason)

    async def end_active_hold(self, user: UserRef, status: HoldStatus, reason: str) -> Hold | None:
        """End the user's active hold, if any, and delete its timers."""
        return await self._end_one(_active_of(user), status, reason)

    async def _end_one(self, which: sa.ColumnElement[bool], status: HoldStatus, reason: str) -> Hold | None:
        if status is HoldStatus.ACTIVE:
            raise ValueError("a hold ends with a final status, not 'active'")
        async with self.write() as connection:
            ended = await self._end_holds(
                connection, which, status=status, reason=reason, now=self._clock.now()
            )
        return ended[0] if ended else None

    async def _end_holds(
        self,
        connection: AsyncConnection,
        which: sa.ColumnElement[bool],
        *,
        status: HoldStatus,
        reason: str,
        now: datetime,
    ) -> list[Hold]:
        rows = (
            await connection.execute(
                sa.update(holds)
                .where(which, holds.c.status == HoldStatus.ACTIVE.value)
                .values(status=status.value, ended_at=now, ended_reason=_clip(reason, 200))
                .returning(*holds.c)
            )
        ).all()
        ended = [_hold(row) for row in rows]
        if ended:
            await connection.execute(
                sa.delete(timers).where(timers.c.hold_id.in_([hold.id for hold in ended]))
            )
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
        return _hold(row) if row else None

    # -- conversation references --------------------------------------------------------------------
    async def save_conversation_reference(
        self,
        user: UserRef,
        *,
        conversation_id: str,
        conversation_type: str | None,
        reference: Mapping[str, Any],
    ) -> ConversationReferenceRecord:
        """Remember how to reach `user` in a conversation (one row per user and conversation)."""
        values = {
            "tenant_id": _tenant(user),
            "user_id": user.user_id,
            "conversation_id": conversation_id,
            "conversation_type": conversation_type,
            "reference": dict(reference),
            "updated_at": self._clock.now(),
        }
        async with self.write() as connection:
            row = (await connection.execute(self._save_reference, values)).one()
        return _reference(row)

    async def latest_conversation_reference(
        self, user: UserRef, *, conversation_type: str | None = None
    ) -> ConversationReferenceRecord | None:
        """The conversation the user last wrote to the bot in (optionally only of one type, e.g. personal)."""
        statement = sa.select(conversation_references).where(
            conversation_references.c.tenant_id == _tenant(user),
            conversation_references.c.user_id == user.user_id,
        )
        if conversation_type is not None:
            statement = statement.where(conversation_references.c.conversation_type == conversation_type)
        statement = statement.order_by(conversation_references.c.updated_at.desc()).limit(1)
        async with self.read() as connection:
            row = (await connection.execute(statement)).first()
        return _reference(row) if row else None

    # -- the bookkeeping of one activity ----------------------------------------------------------
    async def record_turn(
        self,
        user: UserRef,
        *,
        activity_key: str | None,
        conversation: SavedConversation | None,
        reported_zone: str | None,
    ) -> TurnRecord:
        """Everything an incoming activity needs from the store, in one transaction.

        Marks `activity_key` processed (a key seen within the dedup window: `fresh=False`, nothing else
        is done); reads the sender's settings; saves how to reach them in this conversation unless it
        is already their latest one, unchanged; keeps the zone Teams reported unless they chose one or
        it is the same. Only what changed is written.
        """
        now = self._clock.now()
        async with self.write() as connection:
            if activity_key is not None:
                values = {"activity_id": activity_key[:256], "seen_at": now, "cutoff": now - DEDUP_WINDOW}
                fresh = (await connection.execute(self._mark_processed, values)).first() is not None
                if self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY:
                    self._last_prune = now
                    await connection.execute(
                        sa.delete(processed_activities).where(
                            processed_activities.c.seen_at < now - DEDUP_WINDOW
                        )
                    )
                if not fresh:
                    return TurnRecord(fresh=False, settings=None)
            key = {"tenant_id": _tenant(user), "user_id": user.user_id}
            row = (
                await connection.execute(
                    sa.select(users).where(
                        users.c.tenant_id == key["tenant_id"], users.c.user_id == user.user_id
                    )
                )
            ).first()
            settings = _user(row) if row else None
            if conversation is not None:
                latest = (
                    await connection.execute(
                        sa.select(
                            conversation_references.c.conversation_id,
                            conversation_references.c.conversation_type,
                            conversation_references.c.reference,
                        )
                        .where(
                            conversation_references.c.tenant_id == key["tenant_id"],
                            conversation_references.c.user_id == user.user_id,
                        )
                        .order_by(conversation_references.c.updated_at.desc())
                        .limit(1)
                    )
                ).first()
                if latest is None or tuple(latest) != tuple(conversation):
                    await connection.execute(
                        self._save_reference, {**key, **conversation._asdict(), "updated_at": now}
                    )
            if reported_zone and (
                settings is None or (not settings.time_zone_explicit and settings.time_zone != reported_zone)
            ):
                values = {**key, "updated_at": now, "time_zone": reported_zone, "time_zone_explicit": False}
                changed = (await connection.execute(self._remember_time_zone, values)).first()
                if changed is not None:
                    settings = _user(changed)
        return TurnRecord(fresh=True, settings=settings)

    # -- redelivered activities --------------------------------------------------------------------
    async def mark_activity_processed(self, activity_id: str) -> bool:
        """True if the activity is new (handle it); False if it was seen within the last 10 minutes.

        One atomic statement: insert, or take over a row older than the window; a row inside the
        window is left alone and nothing is returned.
        """
        now = self._clock.now()
        values = {"activity_id": activity_id, "seen_at": now, "cutoff": now - DEDUP_WINDOW}
        async with self.write() as connection:
            fresh = (await connection.execute(self._mark_processed, values)).first() is not None
        if self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY:
            self._last_prune = now
            await self.prune_processed_activities()
        return fresh

    async def prune_processed_activities(self) -> int:
        """Forget activity ids older than the dedup window; returns how many were removed."""
        cutoff = self._clock.now() - DEDUP_WINDOW
        async with self.write() as connection:
            result = await connection.execute(
                sa.delete(processed_activities).where(processed_activities.c.seen_at < cutoff)
            )
        return result.rowcount

    # -- audit -----------------------------------------------------------------------------------------
    async def record_audit(
        self,
        user: UserRef,
        *,
        operation: str,
        outcome: str,
        request: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        """Record one Graph write: `outcome` is "ok" or the Graph error code. Never pass secrets."""
        entry = AuditRow(
            operation, outcome, dict(request) if request is not None else None, status_code, detail
        )
        statement = (
            sa.insert(audit_log).values(_audit_values(user, entry, self._clock.now())).returning(*audit_log.c)
        )
        async with self.write() as connection:
            row = (await connection.execute(statement)).one()
        return _audit(row)

    async def list_audit(self, user: UserRef, limit: int = 50) -> list[AuditEntry]:
        """The user's audit entries, newest first."""
        statement = (
            sa.select(audit_log)
            .where(audit_log.c.tenant_id == _tenant(user), audit_log.c.user_id == user.user_id)
            .order_by(audit_log.c.id.desc())
            .limit(limit)
        )
        async with self.read() as connection:
            rows = (await connection.execute(statement)).all()
        return [_audit(row) for row in rows]

    # -- counts --------------------------------------------------------------------------------------
    async def counts(self) -> StoreCounts:
        """Row counts of every table (for tests and benchmarks)."""

        def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
            return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()

        statement = sa.select(
            count(users).label("users"),
            count(holds).label("holds"),
            count(holds, holds.c.status == HoldStatus.ACTIVE.value).label("active_holds"),
            count(timers).label("timers"),
            count(conversation_references).label("conversation_references"),
            count(processed_activities).label("processed_activities"),
            count(audit_log).label("audit_log"),
        )
        async with self.read() as connection:
            row = (await connection.execute(statement)).one()
        return StoreCounts.model_validate(row._asdict())


def _audit_values(user: UserRef, row: AuditRow, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "tenant_id": _tenant(user),
        "user_id": user.user_id,
        "operation": row.operation[:64],
        "request": row.request,
        "outcome": row.outcome[:64],
        "status_code": row.status_code,
        "detail": _clip(row.detail, 1000),
    }


def _active_of(user: UserRef) -> sa.ColumnElement[bool]:
    return sa.and_(
        holds.c.tenant_id == _tenant(user),
        holds.c.user_id == user.user_id,
        holds.c.status == HoldStatus.ACTIVE.value,
    )


def _user(row: sa.Row[Any]) -> UserSettings:
    return UserSettings(
        tenant_id=_tenant_out(row.tenant_id),
        user_id=row.user_id,
        time_zone=row.time_zone,
        time_zone_explicit=row.time_zone_explicit,
        notices_enabled=row.notices_enabled,
        updated_at=row.updated_at,
    )


def _hold(row: sa.Row[Any]) -> Hold:
    return Hold.model_validate({**row._asdict(), "tenant_id": _tenant_out(row.tenant_id)})


def _reference(row: sa.Row[Any]) -> ConversationReferenceRecord:
    return ConversationReferenceRecord.model_validate(
        {**row._asdict(), "tenant_id": _tenant_out(row.tenant_id)}
    )


def _audit(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry.model_validate({**row._asdict(), "tenant_id": _tenant_out(row.tenant_id)})
