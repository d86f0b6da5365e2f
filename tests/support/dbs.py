"""The databases tests run on: PostgreSQL at 127.0.0.1:5432 (database `test`, user `postgres` or `root`,
trust auth), a fresh schema per test, named in the URL (`?schema=`, which `open_store` turns into the
connection's `search_path`), dropped afterwards. Without PostgreSQL a test that needs it is skipped, except
under CI (`CI=true`), where it fails: CI must test both databases.

The `store_url` fixture (tests/support/fixtures.py: SQLite, then PostgreSQL) is built on `postgres_schema`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
import pytest

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
PG_USERS = ("postgres", "root")


async def connect_postgres() -> tuple[asyncpg.Connection, str]:
    errors: list[str] = []
    for user in PG_USERS:
        try:
            connection = await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=user, database=PG_DATABASE, timeout=5
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{user}: {type(exc).__name__}: {exc}")
            continue
        return connection, user
    reasons = "; ".join(errors)
    message = f"PostgreSQL at {PG_HOST}:{PG_PORT} (database {PG_DATABASE!r}) is not reachable: {reasons}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. PostgreSQL at {PG_HOST}:{PG_PORT} is required under CI.", pytrace=False)
    pytest.skip(message)


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A fresh PostgreSQL schema: its `open_store` URL and an admin connection whose `search_path`
    is that schema (to read what the bot wrote). Dropped afterwards."""
    admin, user = await connect_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        # A test that leaks a transaction makes the DROP fail after 10 s instead of hanging the run.
        await admin.execute("SET lock_timeout = '10s'")
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        await admin.execute(f'SET search_path TO "{schema}"')
        yield f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}?schema={schema}", admin
    finally:
        try:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.close()
