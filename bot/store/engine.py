"""The store's database plumbing: the engine for SQLite or PostgreSQL, migrations on open, and the
transactions and upserts every query module uses. The queries themselves are in `bot.store.store`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from bot.clock import Clock
from bot.store.migrate import upgrade_to_head

log = logging.getLogger(__name__)
_ADVISORY_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext(:topic), hashtext(:key))")

T = TypeVar("T")

DB_FILE = "presence-bot.db"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Enough kept-open connections for the timer handlers plus the bot's requests: a smaller pool opens and
# closes "overflow" connections under load, and a new PostgreSQL connection costs a backend process.
_POOL: dict[str, Any] = {"pool_size": 10, "max_overflow": 10}


async def open_engine(url: str | None, data_dir: Path) -> AsyncEngine:
    """Open (and migrate to head) the database.

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
    return engine


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
        _configure_sqlite(engine.sync_engine)
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


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL, foreign keys and a busy timeout on every connection; transactions begun explicitly.

    pysqlite's own transaction handling defers BEGIN and cannot say IMMEDIATE, so it is switched off
    and BEGIN is emitted here (the recipe in SQLAlchemy's SQLite notes). Writes begin IMMEDIATE:
    they take SQLite's single write lock up front and wait for it (busy timeout), instead of failing
    with SQLITE_BUSY when a read transaction tries to become a write.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # The busy timeout first: switching a new file to WAL waits for other processes' locks too.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _use_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so: only a new file's first connection switches it).

    Two processes opening a new file at once can both try to switch; SQLite then answers one of them
    "database is locked" at once, without waiting out the busy timeout. That one tries again for up to
    5 s (this runs in the driver's thread, never on the event loop).
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    give_up_at = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= give_up_at:
                raise
            time.sleep(0.02)


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


class Database:
    """An open engine with the store's transaction rules: one queued writer on SQLite (BEGIN
    IMMEDIATE), plain transactions on PostgreSQL. `bot.store.store.Store` adds the queries.

    Two ways to run a transaction: `write()`/`read()` hand out an `AsyncConnection` (each statement
    awaited), and `run(fn)` runs a plain function of a sync `Connection` as one transaction. On SQLite
    `run` is one hop to the store's own thread for the whole transaction instead of one per statement
    (aiosqlite's), which halves what a command's store work costs (docs/performance.md); the queries a
    command runs use it. On PostgreSQL it runs on the async driver through SQLAlchemy's greenlet bridge.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._writer = engine.execution_options(sqlite_begin_immediate=True)
        # SQLite has one writer: writers of this process queue here rather than in SQLite's busy
        # handler, which sleeps in steps of up to 100 ms. Other processes still meet the busy timeout.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._sync: sa.Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite":
            self._sync = sa.create_engine(
                engine.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=1
            )
            _configure_sqlite(self._sync)
            self._sync_writer = self._sync.execution_options(sqlite_begin_immediate=True)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="presence-bot-store")

    @property
    def engines(self) -> tuple[sa.Engine, ...]:
        """Every (sync) engine behind the store, e.g. to listen to its events."""
        return (self._engine.sync_engine,) if self._sync is None else (self._engine.sync_engine, self._sync)

    async def run(self, fn: Callable[[sa.Connection], T], *, write: bool = True) -> T:
        """Run `fn` as one transaction (committed when it returns, rolled back if it raises)."""
        if self._thread is None or self._sync is None:
            begin = self._writer.begin() if write else self._engine.begin()
            async with begin as connection:
                return await connection.run_sync(fn)
        loop = asyncio.get_running_loop()
        call = functools.partial(_transaction, self._sync_writer if write else self._sync, fn)
        if write and self._write_lock is not None:
            async with self._write_lock:
                return await loop.run_in_executor(self._thread, call)
        return await loop.run_in_executor(self._thread, call)

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

    def queue_for(self, connection: sa.Connection, topic: str, key: str) -> None:
        """Make this transaction wait for any other holding `(topic, key)` (a PostgreSQL transaction
        advisory lock, released at commit); SQLite has a single writer, so nothing to do there."""
        if self.dialect == "postgresql":
            connection.execute(_ADVISORY_LOCK, {"topic": f"presence-bot:{topic}", "key": key})

    async def close(self) -> None:
        if self._thread is not None and self._sync is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=True)
        await self._engine.dispose()


def _transaction(engine: sa.Engine, fn: Callable[[sa.Connection], T]) -> T:
    with engine.begin() as connection:
        return fn(connection)
