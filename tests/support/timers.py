"""Waiting for a bot's durable timers to go quiet, so a test can assert that something did *not* happen.

A timer that may still fire is a row in `timers` that is due (at the bot's clock) or leased (being fired),
or a handler in flight (`inflight` in the timer service's stats and in /healthz). When there is none of
them, every firing that was due has finished (its Graph calls: handlers do their work inside the firing)
and nothing else fires until the clock moves on or a command schedules something. A firing's notice is
queued for the proactive sender, which paces it: quiet also means no notice queued (`pending` in the
sender's stats and in /healthz's `notices`).

A watch's notice is proved the only one by `watch_polls_over` / `watch_polls_over_process`: the
tenant's poll timer is gone (a poll reschedules it only while the tenant has a watch), so no later poll
can send another, and the bot is quiet, so no notice is still on its way.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa

from bot.app import RUNTIME
from bot.colleagues.watcher import POLL_KEY_PREFIX
from bot.server import RunningBot
from bot.store.engine import DB_FILE
from bot.store.schema import timers
from tests.support.e2e import Served
from tests.support.procs import BotProcess
from tests.support.waiting import eventually

# The tenants' watch poll timers (one per tenant with watches).
POLL_TIMERS = sa.select(sa.func.count()).select_from(timers).where(timers.c.key.like(f"{POLL_KEY_PREFIX}%"))

# Timers that may fire without the clock moving: leased (firing now) or due at `now`.
PENDING = (
    sa.select(sa.func.count())
    .select_from(timers)
    .where(sa.or_(timers.c.lease_until.is_not(None), timers.c.due_at <= sa.bindparam("now")))
)


async def settle(bot: RunningBot, *, seconds: float = 30.0) -> None:
    """Wait until the in-process bot's timers are quiet: none due or leased, no handler in flight, no
    notice waiting to be sent."""
    runtime = bot.app[RUNTIME]
    service, store, notifier = runtime.services.timers, runtime.services.store, runtime.services.notifier

    async def quiet() -> bool:
        before = service.stats()["inflight"]
        async with store.read() as connection:
            pending = await connection.scalar(PENDING, {"now": runtime.clock.now()})
        idle = before == service.stats()["inflight"] == 0 and notifier.sender.pending == 0
        return pending == 0 and idle

    await eventually(quiet, seconds=seconds, what="the bot's timers going quiet")


async def health(http: httpx.AsyncClient, bot: Served) -> tuple[datetime, int]:
    """A bot's clock and its work in flight (timer handlers, notices not sent yet), from its /healthz."""
    response = await http.get(f"{bot.url}/healthz")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    busy = int(body["timers"]["inflight"]) + int((body.get("notices") or {}).get("pending", 0))
    return datetime.fromisoformat(body["time"]), busy


async def settle_process(http: httpx.AsyncClient, bot: BotProcess, *, seconds: float = 30.0) -> None:
    """`settle` for a `presence-bot serve` process on its SQLite store (in its data directory), read here
    through a read-only connection of our own."""
    engine = sa.create_engine(f"sqlite:///file:{bot.data_dir / DB_FILE}?mode=ro&uri=true")

    def pending(now: datetime) -> int | None:
        try:
            with engine.connect() as connection:
                return connection.scalar(PENDING, {"now": now})
        except sa.exc.OperationalError:  # the process holds the write lock for a moment
            return None

    async def quiet() -> bool:
        now, before = await health(http, bot)
        left = await asyncio.to_thread(pending, now)
        _, after = await health(http, bot)  # a handler that started meanwhile
        return left == 0 and before == after == 0

    try:
        await eventually(quiet, seconds=seconds, what=f"{bot.name}'s timers going quiet")
    finally:
        engine.dispose()


async def watch_polls_over(bot: RunningBot, *, seconds: float = 30.0) -> None:
    """Wait until the in-process bot has no watch poll timer left and is quiet (`settle`)."""
    store = bot.app[RUNTIME].services.store

    async def no_poll_timer() -> bool:
        async with store.read() as connection:
            return await connection.scalar(POLL_TIMERS) == 0

    await eventually(no_poll_timer, seconds=seconds, what="the last watch poll")
    await settle(bot, seconds=seconds)


async def watch_polls_over_process(
    http: httpx.AsyncClient, bot: BotProcess, *, seconds: float = 30.0
) -> None:
    """`watch_polls_over` for a `presence-bot serve` process on its SQLite store."""
    engine = sa.create_engine(f"sqlite:///file:{bot.data_dir / DB_FILE}?mode=ro&uri=true")

    def poll_timers() -> int | None:
        try:
            with engine.connect() as connection:
                return connection.scalar(POLL_TIMERS)
        except sa.exc.OperationalError:  # the process holds the write lock for a moment
            return None

    try:
        await eventually(
            lambda: asyncio.to_thread(lambda: poll_timers() == 0), seconds=seconds, what="the last watch poll"
        )
    finally:
        engine.dispose()
    await settle_process(http, bot, seconds=seconds)
