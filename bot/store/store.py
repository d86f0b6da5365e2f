"""The durable store: SQLite by default, PostgreSQL when a URL says so.

Everything the bot must remember across restarts and replicas lives here: users' time zones and notice
preference, holds (states the bot keeps re-setting until the user's requested end), conversation
references for proactive messages, the ids of activities already handled, and an audit of every Graph
write. Timers share the database and are driven by `bot.store.timers.TimerService`.

Times come from the injected `Clock`, never from the database, so the simulator can move time forward.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from bot.clock import Clock
from bot.core.users import UserRef
from bot.store.migrate import upgrade_to_head
from bot.store.records import (
    AuditEntry,
    ConversationReferenceRecord,
    Hold,
    HoldStatus,
    StoreCounts,
    UserSettings,
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

DB_FILE = "presence-bot.db"
# Teams redelivers an activity when the bot is slow to answer; a redelivery inside this window is skipped.
DEDUP_WINDOW = timedelta(minutes=10)
SQLITE_BUSY_TIMEOUT_MS = 5000
_PRUNE_EVERY = timedelta(minutes=1)
_REPLACE_TRIES = 3
# Enough kept-open connections for the timer handlers plus the bot's requests: a smaller pool opens and
# closes "overflow" connections under load, and a new PostgreSQL connection costs a backend process.
_POOL: dict[str, Any] = {"pool_size": 10, "max_overflow": 10}
_USER_HOLD_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('presence-bot:hold'), hashtext(:user))")


async def open_store(url: str | None, data_dir: Path, clock: Clock) -> Store:
    """Open (and migrate to head) the store.

    With no `url`, a SQLite file `data_dir/presence-bot.db` (WAL, foreign keys, busy timeout). A
    `postgresql+asyncpg://user@host/db` URL uses PostgreSQL; `?schema=name` puts the tables in that
    schema (created if missing). Migrations run on every open and are a no-op when already at head.
    """
    engine, schema = _create_engine(url, data_dir)
    try:
        if schema:
            await _ensure_schema(engine, schema)
        await upgrade_to_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    log.info("store opened (%s)", engine.url.render_as_string(hide_password=True))
    return Store(engine, clock)


def _create_engine(url: str | None, data_dir: Path) -> tuple[AsyncEngine, str | None]:
    """The engine for `url`, and the PostgreSQL schema it names (if any)."""
    if url is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        target: URL = URL.create("sqlite+aiosqlite", database=str(data_dir / DB_FILE))
    else:
        target = make_url(url)
    backend = target.get_backend_name()
    if backend == "sqlite":
        if target.get_driver_name() != "aiosqlite":
            target = target.set(drivername="sqlite+aiosqlite")
        if not target.database or target.database == ":memory:" or "mode=memory" in str(target):
            # Each pooled connection would get its own empty database: use a file (e.g. in tmp_path).
            raise ValueError("the store needs a SQLite file, not an in-memory database")
        Path(target.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, **_POOL)
        _configure_sqlite(engine)
        return engine, None
    if backend == "postgresql":
        if target.get_driver_name() != "asyncpg":
            target = target.set(drivername="postgresql+asyncpg")
        connect_args: dict[str, Any] = {}
        schema = target.query.get("schema")
        if not isinstance(schema, str) or not schema:
            schema = None
        else:
            target = target.difference_update_query(["schema"])
            connect_args["server_settings"] = {"search_path": schema}
        engine = create_async_engine(target, connect_args=connect_args, pool_pre_ping=True, **_POOL)
        return engine, schema
    raise ValueError(f"unsupported database {backend!r}: use SQLite or PostgreSQL (postgresql+asyncpg://)")


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys and a busy timeout on every connection; transactions begun explicitly.

    pysqlite's own transaction handling defers BEGIN and cannot say IMMEDIATE, so it is switched off
    and BEGIN is emitted here (the recipe in SQLAlchemy's SQLite notes). Writes begin IMMEDIATE:
    they take SQLite's single write lock up front and wait for it (busy timeout), instead of failing
    with SQLITE_BUSY when a read transaction tries to become a write.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # The busy timeout first: switching a new file to WAL waits for other processes' locks too.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def _ensure_schema(engine: AsyncEngine, schema: str) -> None:
    """Create the schema named by `?schema=` if it does not exist yet."""
    async with engine.connect() as connection:
        exists = await connection.scalar(
            sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": schema}
        )
        if exists:
            return
        quoted = engine.dialect.identifier_preparer.quote_schema(schema)
        try:
            await connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            await connection.commit()
        except IntegrityError:
            # Another replica created it at the same moment (IF NOT EXISTS is not race-free).
            await connection.rollback()


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


class Store:
    """Typed access to the bot's durable state. Create with `open_store`; close with `close()`."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._writer = engine.execution_options(sqlite_begin_immediate=True)
        # SQLite has one writer: writers of this process queue here rather than in SQLite's busy
        # handler, which sleeps in steps of up to 100 ms. Other processes still meet the busy timeout.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
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

    # -- plumbing shared with bot.store.timers ----------------------------------------------------
    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self._engine.dialect.name

    @property
    def clock(self) -> Clock:
        return self._clock

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (committed on exit, rolled back on error). Do not nest."""
        if self._write_lock is None:
            async with self._writer.begin() as connection:
                yield connection
            return
        async with self._write_lock, self._writer.begin() as connection:
            yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction."""
        async with self._engine.connect() as connection:
            yield connection

    def upsert(
        self,
        table: sa.Table,
        *,
        conflict: Sequence[str],
        update: Callable[[ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]], Mapping[str, Any]],
        where: sa.ColumnElement[bool] | None = None,
    ) -> sa.Insert:
        """`INSERT … ON CONFLICT (conflict) DO UPDATE SET update(excluded) [WHERE where]`, either backend.

        The values come as parameters at execution: build the statement once and reuse it (building
        an upsert costs more than running it).
        """
        if self.dialect == "postgresql":
            pg = postgresql.insert(table)
            return pg.on_conflict_do_update(
                index_elements=list(conflict), set_=update(pg.excluded), where=where
            )
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=list(conflict), set_=update(lite.excluded), where=where
        )

    async def close(self) -> None:
        await self._engine.dispose()

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
        for attempt in range(1, _REPLACE_TRIES + 1):
            now = self._clock.now()
            try:
                async with self.write() as connection:
                    if self.dialect == "postgresql":
                        # Replacements for one user queue here instead of racing to the unique index.
                        await connection.execute(_USER_HOLD_LOCK, {"user": f"{_tenant(user)}/{user.user_id}"})
                    await self._end_holds(
                        connection,
                        _active_of(user),
                        status=previous_status,
                        reason=reason,
                        now=now,
                    )
                    row = (
                        await connection.execute(
                            sa.insert(holds)
                            .values(
                                tenant_id=_tenant(user),
                                user_id=user.user_id,
                                state=state,
                                layer=layer,
                                availability=availability,
                                activity=activity,
                                requested_end=requested_end,
                                created_at=now,
                                status=HoldStatus.ACTIVE.value,
                                last_refresh_at=now if graph_expires_at else None,
                                graph_expires_at=graph_expires_at,
                            )
                            .returning(*holds.c)
                        )
                    ).one()
                return _hold(row)
            except IntegrityError:
                # Another replica inserted an active hold for this user between our UPDATE and INSERT.
                if attempt == _REPLACE_TRIES:
                    raise
                log.info("concurrent hold replacement for a user; trying again (%d)", attempt)
        raise AssertionError("unreachable")  # pragma: no cover

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
        missing_end = ~sa.exists().where(end_timer.c.hold_id == holds.c.id, end_timer.c.kind == "end")
        missing_refresh = sa.and_(
            holds.c.layer == "session",
            holds.c.graph_expires_at.is_not(None),
            ~sa.exists().where(refresh_timer.c.hold_id == holds.c.id, refresh_timer.c.kind == "refresh"),
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
        statement = (
            sa.insert(audit_log)
            .values(
                at=self._clock.now(),
                tenant_id=_tenant(user),
                user_id=user.user_id,
                operation=operation[:64],
                request=dict(request) if request is not None else None,
                outcome=outcome[:64],
                status_code=status_code,
                detail=_clip(detail, 1000),
            )
            .returning(*audit_log.c)
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
