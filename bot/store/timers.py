"""Durable timers: at-least-once, claimed under a lease, woken by the clock rather than by polling.

A timer is a row keyed by a name the caller picks (`hold:42:refresh`). `schedule` upserts by key, so
rescheduling replaces; every upsert bumps the row's `generation`, so when a firing completes only that
generation is deleted and a handler that reschedules its own key keeps its timer.

The loop asks the database only for the next time anything can happen (two `min()`s answered from
indexes: the earliest unleased `due_at` and the earliest `lease_until`), sleeps until then, and is
woken early by `schedule` in this process, by the `AdjustableClock` jumping forward, and by a safety
poll (timers scheduled by other replicas). Due timers are claimed in one statement that sets
`lease_owner`/`lease_until` (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has a single writer), so
replicas never fire the same claim twice; a replica that dies mid-fire leaves a lease that expires,
after which any replica claims the timer again. All times come from the injected clock.

Handlers should finish well within the lease (30 s by default): a firing that outlives its lease may
be claimed again elsewhere. That, a crash after the handler succeeded, or a lost completion write are
the at-least-once cases; handlers must be idempotent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa

from bot.clock import Clock, sleep_until
from bot.store.records import Timer
from bot.store.schema import timers
from bot.store.store import Store

log = logging.getLogger(__name__)

TimerHandler = Callable[[Timer], Awaitable[None]]
GiveUpHandler = Callable[[Timer, BaseException], Awaitable[None]]

# When a timer is due but cannot be claimed (it is firing here, or another replica's claim holds its
# row lock for a moment), look again after this long instead of spinning.
_BUSY_RETRY = timedelta(milliseconds=200)
_ERROR_PAUSE_MAX = timedelta(seconds=30)
# Only the generation that fired: if the handler rescheduled its own key, the new schedule stays.
_DELETE_FIRED = sa.delete(timers).where(
    timers.c.id == sa.bindparam("id"), timers.c.generation == sa.bindparam("generation")
)


def percentile(values: Sequence[float], q: float, *, ordered: bool = False) -> float:
    """The `q` quantile (0–1) of a non-empty sample, nearest rank (`ordered`: already sorted)."""
    ranked = values if ordered else sorted(values)
    return ranked[min(len(ranked) - 1, int(q * len(ranked)))]


class TimerAbandoned(Exception):
    """Given to `on_give_up` when a timer was claimed more often than allowed without finishing."""


@runtime_checkable
class _Advancing(Protocol):
    def on_advance(self, listener: Callable[[], None]) -> Callable[[], None]: ...


class TimerService:
    """Fires durable timers through `handler`; several replicas may share one database."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        handler: TimerHandler,
        *,
        owner: str,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 100,
        concurrency: int = 16,
        max_attempts: int = 5,
        retry_backoff: timedelta = timedelta(seconds=5),
        retry_backoff_cap: timedelta = timedelta(minutes=5),
        poll_interval: timedelta = timedelta(seconds=5),
        on_give_up: GiveUpHandler | None = None,
    ) -> None:
        if batch < 1 or concurrency < 1 or max_attempts < 1:
            raise ValueError("batch, concurrency and max_attempts must be at least 1")
        self._store = store
        self._clock = clock
        self._handler = handler
        self._owner = owner
        self._lease = lease
        self._batch = batch
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._retry_backoff_cap = retry_backoff_cap
        self._poll_interval = poll_interval
        self._on_give_up = on_give_up
        self._wake = asyncio.Event()
        self._next_wake: datetime | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = False
        # Seconds from each recent firing's due time to its handler starting (the timers' lateness).
        self._lateness: collections.deque[float] = collections.deque(maxlen=10_000)
        self._fire_count = 0

    @property
    def owner(self) -> str:
        return self._owner

    def stats(self) -> dict[str, float | int | None]:
        """Firings so far and the lateness (due → handler start) of the recent ones, in seconds."""
        recent = sorted(self._lateness)

        def pick(q: float) -> float | None:
            return round(percentile(recent, q, ordered=True), 4) if recent else None

        return {
            "fired": self._fire_count,
            "inflight": len(self._inflight),
            "latenessP50": pick(0.50),
            "latenessP90": pick(0.90),
            "latenessP99": pick(0.99),
            "latenessMax": pick(1.0),
        }

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    # -- scheduling ------------------------------------------------------------------------------------
    async def schedule(
        self,
        key: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        *,
        hold_id: int | None = None,
    ) -> Timer:
        """Create the timer `key`, or replace it (new due time, payload and generation; lease cleared).

        `hold_id` ties the timer to a hold: ending or replacing the hold deletes it.
        """
        row = await self._store.run(
            lambda connection: self._store.upsert_timer(
                connection, key=key, kind=kind, due_at=due_at, payload=payload or {}, hold_id=hold_id
            )
        )
        self.scheduled(due_at)
        return _timer(row)

    def scheduled(self, due_at: datetime) -> None:
        """A timer due at `due_at` was stored (here or in a caller's transaction): wake the loop if it
        is due before the loop's next wake-up."""
        if self._next_wake is None or due_at < self._next_wake:
            self._wake.set()

    async def cancel(self, key: str) -> bool:
        """Delete the timer `key`; False if there was none. A firing already under way still finishes."""
        async with self._store.write() as connection:
            result = await connection.execute(sa.delete(timers).where(timers.c.key == key))
        return result.rowcount > 0

    async def get(self, key: str) -> Timer | None:
        async with self._store.read() as connection:
            row = (await connection.execute(sa.select(timers).where(timers.c.key == key))).first()
        return _timer(row) if row else None

    async def next_wake_at(self) -> datetime | None:
        """The earliest moment a timer may become claimable: an unleased due time or a lease expiry."""
        unleased = (
            sa.select(sa.func.min(timers.c.due_at)).where(timers.c.lease_until.is_(None)).scalar_subquery()
        )
        leased = (
            sa.select(sa.func.min(timers.c.lease_until))
            .where(timers.c.lease_until.is_not(None))
            .scalar_subquery()
        )
        async with self._store.read() as connection:
            row = (await connection.execute(sa.select(unleased.label("due"), leased.label("lease")))).one()
        present: list[datetime] = [moment for moment in row if moment is not None]
        return min(present) if present else None

    # -- claiming and firing ---------------------------------------------------------------------------
    async def claim(self, limit: int | None = None) -> list[Timer]:
        """Lease up to `limit` due timers to this owner and return them, without firing them.

        The loop uses this; tests use it to play a replica that claims and then dies.
        """
        limit = self._batch if limit is None else limit
        now = self._clock.now()
        due = (
            sa.select(timers.c.id)
            .where(
                timers.c.due_at <= now,
                sa.or_(timers.c.lease_until.is_(None), timers.c.lease_until < now),
            )
            .order_by(timers.c.due_at)
            .limit(limit)
        )
        if self._inflight:
            due = due.where(timers.c.id.not_in(list(self._inflight)))
        if self._store.dialect == "postgresql":
            # Replicas skip each other's rows instead of queueing on them; MATERIALIZED keeps the
            # LIMIT applied once, before the UPDATE.
            chosen = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        else:
            chosen = due.cte("due")
        statement = (
            sa.update(timers)
            .where(timers.c.id.in_(sa.select(chosen.c.id)))
            .values(lease_owner=self._owner, lease_until=now + self._lease, attempts=timers.c.attempts + 1)
            .returning(*timers.c)
        )
        async with self._store.write() as connection:
            rows = (await connection.execute(statement)).all()
        claimed = sorted((_timer(row) for row in rows), key=lambda timer: (timer.due_at, timer.id))
        if claimed:
            log.debug("%s claimed %d timer(s)", self._owner, len(claimed))
        return claimed

    async def _fire(self, timer: Timer) -> None:
        if timer.attempts > self._max_attempts:
            # Claimed again and again without finishing: the handler keeps killing its replica.
            await self._give_up(timer, TimerAbandoned(f"claimed {timer.attempts} times without finishing"))
            return
        self._fire_count += 1
        self._lateness.append(max(0.0, (self._clock.now() - timer.due_at).total_seconds()))
        try:
            await self._handler(timer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(timer, exc)
        else:
            await self._completed(timer)

    async def _completed(self, timer: Timer) -> None:
        with _logged("deleting the fired timer", timer.key):
            async with self._store.write() as connection:
                await connection.execute(_DELETE_FIRED, {"id": timer.id, "generation": timer.generation})

    async def _failed(self, timer: Timer, exc: Exception) -> None:
        if timer.attempts >= self._max_attempts:
            await self._give_up(timer, exc)
            return
        delay = min(self._retry_backoff * 2 ** (timer.attempts - 1), self._retry_backoff_cap)
        retry_at = self._clock.now() + delay
        log.warning(
            "timer %s (%s) failed on attempt %d/%d; retrying at %s: %s",
            timer.key,
            timer.kind,
            timer.attempts,
            self._max_attempts,
            retry_at.isoformat(),
            type(exc).__name__,
            exc_info=exc,
        )
        with _logged("rescheduling the failed timer", timer.key):
            async with self._store.write() as connection:
                await connection.execute(
                    sa.update(timers)
                    .where(
                        timers.c.id == timer.id,
                        timers.c.generation == timer.generation,
                        timers.c.lease_owner == self._owner,
                    )
                    .values(
                        due_at=retry_at,
                        lease_owner=None,
                        lease_until=None,
                        last_error=f"{type(exc).__name__}: {exc}"[:500],
                    )
                )
        self._poke_at(retry_at)

    async def _give_up(self, timer: Timer, exc: BaseException) -> None:
        log.error("timer %s (%s) given up after %d attempt(s)", timer.key, timer.kind, timer.attempts)
        if self._on_give_up is not None:
            with _logged("on_give_up", timer.key):
                await self._on_give_up(timer, exc)
        await self._completed(timer)

    # -- the loop --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start firing timers in the background (overdue ones at once)."""
        if self.running:
            return
        self._stopping = False
        self._event_loop = asyncio.get_running_loop()
        if isinstance(self._clock, _Advancing):
            self._unsubscribe = self._clock.on_advance(self._on_clock_advanced)
        self._wake.set()
        self._loop_task = asyncio.create_task(self._run(), name=f"timers:{self._owner}")
        log.info("timer service %s started", self._owner)

    async def stop(self, grace: timedelta = timedelta(seconds=5)) -> None:
        """Stop claiming; wait up to `grace` for handlers under way, then cancel them.

        A cancelled firing keeps its lease, so another replica (or this one, restarted) fires it again
        once the lease expires.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._loop_task = self._loop_task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(task, timeout=grace.total_seconds())
        except TimeoutError:
            log.warning("timer service %s loop did not stop in time; cancelled", self._owner)
        pending = list(self._inflight.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace.total_seconds())
            for handler_task in late:
                handler_task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("timer service %s cancelled %d firing(s) at stop", self._owner, len(late))
        log.info("timer service %s stopped", self._owner)

    def _on_clock_advanced(self) -> None:
        if self._event_loop is not None and not self._event_loop.is_closed():
            self._event_loop.call_soon_threadsafe(self._wake.set)

    def _poke_at(self, when: datetime) -> None:
        if self._next_wake is None or when < self._next_wake:
            self._wake.set()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self._claim_and_spawn()
                if claimed is None:
                    continue  # a full batch: there may be more due right now
                wake_at = await self.next_wake_at()
                failures = 0
            except Exception:
                failures += 1
                pause = min(timedelta(seconds=2 ** min(failures, 5)), _ERROR_PAUSE_MAX)
                log.exception("timer service %s: database error; trying again in %s", self._owner, pause)
                self._next_wake = self._clock.now() + pause
                await sleep_until(self._clock, self._next_wake, self._wake)
                continue
            now = self._clock.now()
            latest = now + self._poll_interval
            if len(self._inflight) >= self._concurrency or wake_at is None or wake_at > latest:
                wake_at = latest  # a finishing handler wakes the loop when it was full
            elif wake_at <= now and not claimed:
                wake_at = now + _BUSY_RETRY
            self._next_wake = wake_at
            await sleep_until(self._clock, wake_at, self._wake)
        self._next_wake = None

    async def _claim_and_spawn(self) -> list[Timer] | None:
        """Claim what fits in the free handler slots and start firing it; None if the batch was full."""
        free = self._concurrency - len(self._inflight)
        if free <= 0:
            return []
        limit = min(self._batch, free)
        claimed = await self.claim(limit)
        for timer in claimed:
            task = asyncio.create_task(self._fire(timer), name=f"timer:{timer.key}")
            self._inflight[timer.id] = task
            task.add_done_callback(functools.partial(self._fired, timer.id))
        return None if len(claimed) == limit else claimed

    def _fired(self, timer_id: int, task: asyncio.Task[None]) -> None:
        self._inflight.pop(timer_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("timer firing crashed", exc_info=task.exception())
        self._wake.set()


@contextlib.contextmanager
def _logged(what: str, key: str) -> Iterator[None]:
    """Log and swallow an error: a firing that cannot record its end is retried once its lease expires."""
    try:
        yield
    except Exception:
        log.exception("%s failed for timer %s", what, key)


def _timer(row: sa.Row[Any]) -> Timer:
    return Timer.model_validate(row._asdict())
