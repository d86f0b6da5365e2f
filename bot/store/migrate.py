"""Bring a database to the newest schema with Alembic, from async code.

Alembic's API is synchronous. The revision files are read in a worker thread; the migration itself runs
through `AsyncConnection.run_sync`, so every database round trip is still awaited on the event loop
rather than blocking it. On PostgreSQL a transaction-scoped advisory lock serialises replicas that
start at the same moment (DDL is transactional there, so the second one finds the schema at head); on
SQLite the migration runs in a `BEGIN IMMEDIATE` transaction, which does the same for processes
sharing the file.

`python -m bot.store revision "add a column"` writes a new revision by comparing
`bot/store/schema.py` with a scratch SQLite database migrated to head.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# One lock per schema: replicas migrating the same schema wait for each other, other schemas don't.
_LOCK_SQL = text(
    "SELECT pg_advisory_xact_lock(hashtext('presence-bot:migrate:' || coalesce(current_schema(), '')))"
)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic `Config` for the store's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _head(config: Config) -> str | None:
    return ScriptDirectory.from_config(config).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


# Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`), so two
# migrations interleaving on one event loop would trample each other: one at a time per loop.
_in_process: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def upgrade_to_head(engine: AsyncEngine) -> str | None:
    """Migrate the database behind `engine` to the newest revision; returns that revision.

    Safe to call from several processes at once, and cheap when the schema is already at head.
    """
    config = alembic_config()
    head = await asyncio.to_thread(_head, config)
    async with engine.connect() as connection:
        current = await connection.run_sync(_current)
    if current == head:
        return head
    lock = _in_process.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    # On SQLite, BEGIN IMMEDIATE (see bot.store.store._configure_sqlite) takes the write lock before
    # reading the current revision, so a second process waits, then finds the schema at head.
    writer = engine.execution_options(sqlite_begin_immediate=True)
    async with lock, writer.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(_LOCK_SQL)
        before = await connection.run_sync(_current)
        if before != head:
            log.info("migrating the store from %s to %s", before or "an empty database", head)
            await connection.run_sync(_upgrade, config)
    return head


async def _autogenerate(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        engine = create_async_engine(url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()
        await asyncio.to_thread(command.revision, alembic_config(url), message=message, autogenerate=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "revision":
        print('usage: python -m bot.store revision "what changed"', file=sys.stderr)
        return 2
    asyncio.run(_autogenerate(args[1]))
    return 0
