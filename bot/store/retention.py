"""Retention: the audit log, ended holds and ended watches are kept `days` days, then pruned by a
durable timer.

One timer, `maintenance:audit-prune`, fires on one replica at a time; its handler prunes (in batches,
`Store.prune`) and schedules the next pass a day later. `start` creates the timer when it is missing
(a new database, or one an older version ran on), due a day later: a starting replica has enough to do,
and restarts never push the pass back, since an existing timer is left where it is.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.clock import Clock
from bot.store.dispatch import UsesTimers
from bot.store.privacy import PRUNE_BATCH, PruneReport
from bot.store.records import Timer
from bot.store.store import Store

log = logging.getLogger(__name__)

PRUNE_KEY = "maintenance:audit-prune"
PRUNE_KIND = "maintenance.audit-prune"
PRUNE_EVERY = timedelta(days=1)


class Retention(UsesTimers):
    """Keeps the audit log, ended holds and ended watches for `days` days; `fire` and `give_up` serve
    `PRUNE_KIND`."""

    kinds = (PRUNE_KIND,)

    def __init__(self, store: Store, clock: Clock, *, days: int, batch: int = PRUNE_BATCH) -> None:
        if days < 1:
            raise ValueError("the retention is at least one day")
        self._store = store
        self._clock = clock
        self._keep = timedelta(days=days)
        self._batch = batch

    async def start(self) -> None:
        """Schedule the first pass (a day from now) unless the pruning timer exists already."""
        if await self.timers.get(PRUNE_KEY) is None:
            await self._next()

    async def prune(self) -> PruneReport:
        """Delete what is older than the retention now."""
        report = await self._store.prune(self._clock.now() - self._keep, batch=self._batch)
        if report.audit_entries or report.ended_holds or report.ended_watches:
            log.info(
                "retention: removed %d audit entr(ies), %d ended hold(s) and %d ended watch(es) older "
                "than %d day(s)",
                report.audit_entries,
                report.ended_holds,
                report.ended_watches,
                self._keep.days,
            )
        return report

    async def fire(self, timer: Timer) -> None:
        await self.prune()
        await self._next()

    async def give_up(self, timer: Timer, error: BaseException) -> None:
        log.error("retention: the pruning pass failed for good (%s); next try in a day", type(error).__name__)
        await self._next()

    async def _next(self) -> None:
        await self.timers.schedule(PRUNE_KEY, PRUNE_KIND, self._clock.now() + PRUNE_EVERY)
