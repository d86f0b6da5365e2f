"""The fixtures every test folder shares, registered as a pytest plugin by tests/conftest.py
(`pytest_plugins = ["tests.support.fixtures"]`): a test asks for them by name, never imports them.

- `connector`: a local Bot Framework connector on a free loopback port; the bot's replies arrive there.
- `bot`: the real app (embedded simulated tenant, SQLite in `tmp_path`) on a free loopback port.
- `http`: an httpx client for talking to them.
- `store_url`: a database URL for `open_store`, once on SQLite and once on PostgreSQL (tests/support/dbs.py).
- `store_clock` and `store`: an open store on `store_url`, on an `AdjustableClock` the test can move.
- `simulator`: a standalone simulated tenant (Graph and its identity platform over TLS) on free ports.

The SQLite store of `bot` and of `store` starts as a copy of an empty store migrated once per test process
(each pytest-xdist worker has its own), instead of running the migrations again for every test. The
migrations themselves are tested from an empty database (`store_url` names a file not created yet) in
tests/store/test_store.py.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.clock import AdjustableClock
from bot.core.net import bound_port
from bot.server import RunningBot, start_bot
from bot.sim.standalone import StandaloneSimulator, start_standalone
from bot.store import Store, open_store
from bot.store.engine import DB_FILE
from tests.support.builders import make_settings
from tests.support.connector import Connector
from tests.support.dbs import postgres_schema

SQLITE_URL = "sqlite+aiosqlite:///"
_migrated: Path | None = None  # this process's empty store at the newest schema


async def migrated_store_file(target: Path, scratch: pytest.TempPathFactory) -> None:
    """Put an empty SQLite store, already migrated to head, at `target` (a copy of one made once)."""
    global _migrated
    if _migrated is None:
        folder = scratch.mktemp("migrated-store")
        made = await open_store(f"{SQLITE_URL}{folder / DB_FILE}", folder, AdjustableClock())
        await made.close()  # the last connection closed: the WAL is checkpointed into the file
        leftovers = [p.name for p in folder.iterdir() if p.name != DB_FILE]
        assert leftovers == [], f"the closed template store left {leftovers}"
        _migrated = folder / DB_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated, target)


@pytest.fixture
async def connector() -> AsyncIterator[Connector]:
    conn = Connector()
    runner = web.AppRunner(conn.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.url = f"http://127.0.0.1:{bound_port(runner.addresses)}"
    yield conn
    conn.release()  # roster requests a test left stalled
    await runner.cleanup()


@pytest.fixture
async def bot(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningBot]:
    await migrated_store_file(tmp_path / "data" / DB_FILE, tmp_path_factory)
    running = await start_bot(make_settings(tmp_path / "data"), "127.0.0.1", 0)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20) as client:
        yield client


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL for `open_store`: a SQLite file (not there yet), or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"{SQLITE_URL}{tmp_path / 'presence-bot.db'}"
        return
    async with postgres_schema() as (url, _admin):
        yield url


@pytest.fixture
def store_clock() -> AdjustableClock:
    return AdjustableClock()


@pytest.fixture
async def store(
    store_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, store_clock: AdjustableClock
) -> AsyncIterator[Store]:
    if store_url.startswith(SQLITE_URL):
        await migrated_store_file(Path(store_url.removeprefix(SQLITE_URL)), tmp_path_factory)
    opened = await open_store(store_url, tmp_path, store_clock)
    yield opened
    await opened.close()


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[StandaloneSimulator]:
    sim = await start_standalone(tmp_path / "simulator", port=0)
    yield sim
    await sim.stop()
