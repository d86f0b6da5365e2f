"""Benchmark: timer lateness with 10,000 active holds, memory per hold, start-up with 100,000 stored holds.

    make bench                                   # SQLite (the default store)
    .venv/bin/python -m bench.timers --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

1. **Lateness.** The bot runs in this process, pointed at the standalone simulated tenant in a child
   process (`presence-bot simulator`) exactly as at a real tenant: real time, msal's token flow,
   Graph over HTTP. 10,000 Available holds are stored, each with its refresh due somewhere in the
   next 4 minutes: the steady load of 10,000 users holding Available (one refresh per hold per
   4 minutes, before Graph's 5-minute fade; about 42 a second). For `--window` seconds the real
   `TimerService` fires them through the real `HoldKeeper` (setPresence + read-back per refresh, the
   store updated, the next refresh scheduled); lateness is due time → handler start.
2. **Memory per hold.** The bot's resident memory (VmRSS) before the holds were stored and after the
   window, over 10,000; and the database bytes per hold. The bot keeps no per-hold state in memory:
   holds live in the store.
3. **Start-up.** A fresh store with 100,000 active holds and their 200,000 timers (a refresh and an
   end each, not yet due), then `presence-bot serve` as a new process, timed to its first
   `/healthz` 200 (store migrated, timers running), against the same with an empty store.

All traffic stays on 127.0.0.1; every phase is bounded and the child processes are always stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import sqlalchemy as sa

from bench.common import ROOT, child_env, log, simulator, stop
from bot.app import RUNTIME
from bot.clock import SystemClock
from bot.config import SIM_TENANT_ID
from bot.core.net import free_port
from bot.server import start_bot
from bot.store.engine import DB_FILE
from bot.store.schema import holds, timers
from bot.store.store import Store, open_store

CHUNK = 5_000


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- databases -------------------------------------------------------------------------------------
@asynccontextmanager
async def database(base_url: str | None, workdir: Path, name: str) -> AsyncIterator[str | None]:
    """None (SQLite in the data directory) or a PostgreSQL URL with a private schema, dropped after."""
    if base_url is None:
        yield None
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    plain = base_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}schema={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def store_bytes(store: Store, data_dir: Path) -> int:
    if store.dialect == "sqlite":
        files = await asyncio.to_thread(lambda: list(data_dir.glob(f"{DB_FILE}*")))
        return sum(p.stat().st_size for p in files)
    async with store.read() as connection:
        value = await connection.scalar(
            sa.text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        )
    return int(value or 0)


async def seed_holds(
    store: Store,
    count: int,
    *,
    now: datetime,
    refresh_from: datetime,
    refresh_over: timedelta,
    requested_end: datetime,
    available: bool,
) -> None:
    """Store `count` active holds with a refresh timer (due evenly over `refresh_over` from
    `refresh_from`) and an end timer each, in bulk, as the bot itself would have written them."""
    state, pair = ("available", ("Available", "Available")) if available else ("busy", ("Busy", "InACall"))
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        rows = [
            {
                "tenant_id": SIM_TENANT_ID,
                "user_id": f"bench-user-{start + i:07d}",
                "state": state,
                "layer": "session",
                "availability": pair[0],
                "activity": pair[1],
                "requested_end": requested_end,
                "created_at": now,
                "status": "active",
                "last_refresh_at": now,
                "graph_expires_at": now + timedelta(minutes=5 if available else 240),
            }
            for i in range(size)
        ]
        async with store.write() as connection:
            result = await connection.execute(
                sa.insert(holds).returning(holds.c.id, holds.c.user_id, sort_by_parameter_order=True), rows
            )
            ids = [(row.id, row.user_id) for row in result]
            timer_rows: list[dict[str, Any]] = []
            for offset, (hold_id, user_id) in enumerate(ids):
                payload = {"baseline": f"{pair[0]}/{pair[1]}", "name": user_id}
                fraction = (start + offset) / count
                timer_rows.append(
                    {
                        "key": f"hold:{hold_id}:refresh",
                        "kind": "refresh",
                        "payload": payload,
                        "due_at": refresh_from + refresh_over * fraction,
                        "hold_id": hold_id,
                        "created_at": now,
                    }
                )
                timer_rows.append(
                    {
                        "key": f"hold:{hold_id}:end",
                        "kind": "end",
                        "payload": payload,
                        "due_at": requested_end,
                        "hold_id": hold_id,
                        "created_at": now,
                    }
                )
            await connection.execute(sa.insert(timers), timer_rows)


# -- 1 and 2: lateness and memory -----------------------------------------------------------------------
async def lateness_and_memory(
    workdir: Path, database_url: str | None, holds_count: int, window: float
) -> None:
    log(f"\n== Timer lateness with {holds_count:,} active holds ({window:.0f} s of steady load) ==")
    async with simulator(workdir) as sim, database(database_url, workdir, "lateness") as url:
        settings = sim.bot_settings(workdir / "bot", url)
        running = await start_bot(settings, "127.0.0.1", 0, clock=SystemClock())
        try:
            services = running.app[RUNTIME].services
            store, timer_service = services.store, services.timers
            rss_before = rss_bytes()
            db_before = await store_bytes(store, settings.store.data_dir)
            now = datetime.now(UTC)
            period = timedelta(minutes=4)  # an Available hold's refresh period
            started = time.perf_counter()
            await seed_holds(
                store,
                holds_count,
                now=now,
                refresh_from=now + timedelta(seconds=10),
                refresh_over=period,
                requested_end=now + timedelta(hours=2),
                available=True,
            )
            took = time.perf_counter() - started
            log(f"stored {holds_count:,} holds and {2 * holds_count:,} timers in {took:.1f} s")
            due_in_window = int(holds_count * min(1.0, window / period.total_seconds()))
            rate = holds_count / period.total_seconds()
            log(f"refreshes due in the window: ~{due_in_window:,} (~{rate:.0f}/s)")
            await asyncio.sleep(max(0.0, 10 - (time.perf_counter() - started)) + window)
            stats = timer_service.stats()  # the lateness of the last 10,000 firings, as /healthz shows it
            assert stats["latenessMax"] is not None, "no timer fired"
            fired = int(stats["fired"] or 0)
            log(f"fired: {fired:,} refreshes ({fired / window:.1f}/s)")
            log(
                "lateness (due → handler start): "
                + ", ".join(
                    f"{name} {float(stats[key] or 0) * 1000:.0f} ms"
                    for name, key in (
                        ("p50", "latenessP50"),
                        ("p90", "latenessP90"),
                        ("p99", "latenessP99"),
                        ("max", "latenessMax"),
                    )
                )
            )
            async with store.read() as connection:
                refreshed = await connection.scalar(
                    sa.select(sa.func.count())
                    .select_from(holds)
                    .where(holds.c.last_refresh_at > holds.c.created_at)
                )
            log(f"holds refreshed through Graph and stored: {refreshed:,}")
            rss_after = rss_bytes()
            db_after = await store_bytes(store, settings.store.data_dir)
            log(f"\n== Memory per hold ({holds_count:,} active holds) ==")
            log(
                f"bot resident memory: {rss_before / 2**20:.1f} MiB before the holds, "
                f"{rss_after / 2**20:.1f} MiB after the window: "
                f"{(rss_after - rss_before) / holds_count:.0f} bytes per hold"
            )
            per_hold = (db_after - db_before) / holds_count
            log(f"store: {per_hold:.0f} bytes per hold (hold row, two timers, indexes)")
        finally:
            await running.stop()


# -- 3: start-up -------------------------------------------------------------------------------------------
async def time_to_ready(data_dir: Path, database_url: str | None) -> float:
    """Seconds from spawning `presence-bot serve` to its first /healthz 200."""
    port = free_port()
    extra = {"PRESENCE_BOT_LOG_LEVEL": "WARNING"}
    if database_url is not None:
        extra["DATABASE_URL"] = database_url
    env = child_env(data_dir, extra)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(120):
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                if process.returncode is not None:
                    raise RuntimeError(f"presence-bot serve exited with {process.returncode}")
                await asyncio.sleep(0.02)
    finally:
        await stop(process, signal.SIGTERM)


async def startup(workdir: Path, database_url: str | None, holds_count: int, runs: int) -> None:
    log(f"\n== Start-up with {holds_count:,} stored holds ==")
    for label, count in (("empty store", 0), (f"{holds_count:,} active holds", holds_count)):
        data_dir = workdir / f"startup-{count}"
        async with database(database_url, workdir, f"startup{count}") as url:
            store = await open_store(url, data_dir, SystemClock())
            try:
                now = datetime.now(UTC)
                if count:
                    started = time.perf_counter()
                    await seed_holds(
                        store,
                        count,
                        now=now,
                        refresh_from=now + timedelta(hours=1),
                        refresh_over=timedelta(hours=3),
                        requested_end=now + timedelta(hours=8),
                        available=False,
                    )
                    took = time.perf_counter() - started
                    log(f"stored {count:,} holds and {2 * count:,} timers in {took:.1f} s")
            finally:
                await store.close()
            times = [await time_to_ready(data_dir, url) for _ in range(runs)]
        log(
            f"{label}: ready in {statistics.median(times):.2f} s (median of {runs}; "
            f"{', '.join(f'{t:.2f}' for t in times)})"
        )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="postgresql+asyncpg://… (default: SQLite)")
    parser.add_argument("--holds", type=int, default=10_000, help="active holds for lateness and memory")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of steady load to measure")
    parser.add_argument("--stored", type=int, default=100_000, help="stored holds for the start-up figure")
    parser.add_argument("--runs", type=int, default=3, help="start-ups timed per store")
    parser.add_argument("--only", choices=["lateness", "startup"], default=None)
    args = parser.parse_args(argv)
    store_name = "PostgreSQL" if args.database_url else "SQLite"
    python = sys.version.split()[0]
    log(f"Presence Bot timer benchmark: {store_name} store, Python {python}, {os.cpu_count()} CPUs")
    workdir = Path(tempfile.mkdtemp(prefix="presence-bot-bench-"))
    try:
        if args.only in (None, "lateness"):
            await lateness_and_memory(workdir, args.database_url, args.holds, args.window)
        if args.only in (None, "startup"):
            await startup(workdir, args.database_url, args.stored, args.runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log("\n" + json.dumps({"store": store_name, "finished": datetime.now(UTC).isoformat(timespec="seconds")}))


if __name__ == "__main__":
    asyncio.run(main())
