"""The per-tenant watcher: reads the presence of everyone watched in a tenant, once an interval, and
tells each watcher whose colleague is now free (or back); expires watches past their end.

One durable timer per tenant (`watch-poll:<tenant>`, kind `watch.poll`) drives it, so the polls survive
restarts and, with several replicas on one database, the timer service's lease makes exactly one of
them poll. Each firing polls and schedules the next poll while the tenant has watches; then the timer
simply ends. A poll asks Graph once per 650 *distinct* people (getPresencesByUserId), however many
people watch them.

The interval is the configured one, longer when the polls would use more than half of the bulk
window's allowance (getPresencesByUserId: 1,500 calls per 30 s per app per tenant, docs/graph-facts.md
§4), and at least what a 429's `Retry-After` asked. A poll cut short by throttling keeps what it read;
the next one starts with the people it did not reach.

Firings are at least once and a poll may run twice: a watch is ended (conditionally, in the store)
before its notice goes, and only the poll that ended it sends the notice.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.colleagues.ports import PollStore, PresenceReader, WatchNotifier
from bot.core.colleagues import PRESENCES_PER_CALL, Watch, WatchEnd, watch_met
from bot.graph.errors import GraphThrottled
from bot.graph.models import Presence
from bot.store.dispatch import UsesTimers
from bot.store.records import Timer
from bot.store.watches import WatchTarget

log = logging.getLogger(__name__)

POLL_KIND = "watch.poll"
POLL_KEY_PREFIX = "watch-poll:"
# Notices handed to the notifier at once, per poll.
_NOTICE_WIDTH = 32
# A poll starts no further call (the rest wait for the next poll) once it has run this long: with one
# more call's budget (11 s) it still ends inside the timer lease (30 s), so no other replica starts the
# same poll meanwhile.
POLL_BUDGET = timedelta(seconds=15)
# Two polls of one tenant are at least this far apart, even when one took longer than the interval.
_MIN_GAP = timedelta(seconds=1)


def poll_key(tenant_id: str | None) -> str:
    """The key of a tenant's poll timer ("" for the Emulator's missing tenant)."""
    return f"{POLL_KEY_PREFIX}{tenant_id or ''}"


@dataclass(frozen=True)
class PollReport:
    """What one poll of a tenant did."""

    tenant: str
    people: int  # distinct people watched (not yet expired)
    calls: int  # getPresencesByUserId calls made
    read: int  # people whose presence came back
    fired: int  # watches met and ended by this poll
    notified: int  # of those, the notices the notifier sent
    expired: int  # watches past their end, ended by this poll
    throttled: bool  # Graph throttled a call: the poll stopped there
    retry_after: float | None  # what Graph asked to wait, if it said
    interval: timedelta  # the effective interval for this tenant now
    next_delay: timedelta | None  # from the poll's end to the next poll; None: no watch left
    seconds: float  # how long the poll took (on the clock)


class Watcher(UsesTimers):
    """Polls each tenant's watched people; the `TimerService` calls `fire` and `give_up`."""

    kinds = (POLL_KIND,)

    def __init__(
        self,
        store: PollStore,
        reader: PresenceReader,
        clock: Clock,
        notifier: WatchNotifier,
        *,
        interval: timedelta = timedelta(seconds=60),
        bulk_calls_per_window: int = 1500,
        bulk_window: timedelta = timedelta(seconds=30),
    ) -> None:
        if interval <= timedelta(0) or bulk_calls_per_window < 2 or bulk_window <= timedelta(0):
            raise ValueError("the interval and the bulk window must be positive, the allowance at least 2")
        self._store = store
        self._reader = reader
        self._clock = clock
        self._notifier = notifier
        self._interval = interval
        self._allowance = bulk_calls_per_window / 2  # a poll loop takes at most half of the window's
        self._window = bulk_window
        self._recent: collections.deque[PollReport] = collections.deque(maxlen=100)

    def recent_polls(self) -> list[PollReport]:
        """The last 100 polls this process ran, oldest first."""
        return list(self._recent)

    def effective_interval(self, people: int, retry_after: float | None = None) -> timedelta:
        """The interval between two polls of a tenant watching `people` distinct people: the
        configured one, or longer so that the polls use at most half of the bulk window's allowance,
        and at least `retry_after` seconds."""
        calls = math.ceil(people / PRESENCES_PER_CALL)
        interval = max(self._interval, self._window * (calls / self._allowance))
        if retry_after is not None:
            interval = max(interval, timedelta(seconds=retry_after))
        return interval

    # -- the timers ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Make sure every tenant with watches has its poll timer (due within an interval); an existing
        timer is left where it is."""
        for tenant in await self._store.watch_tenants():
            if await self.timers.get(poll_key(tenant)) is None:
                await self._schedule(tenant, self._clock.now() + self._interval, {})

    async def watching(self, tenant_id: str | None) -> None:
        """A watch was just added in the tenant: its poll timer exists afterwards, due at most one
        interval from now (unless Graph asked to wait longer)."""
        tenant = tenant_id or ""
        now = self._clock.now()
        timer = await self.timers.get(poll_key(tenant))
        payload: dict[str, Any] = dict(timer.payload) if timer is not None else {}
        due = now + self._interval
        not_before = _moment(payload.get("not_before"))
        if not_before is not None:
            due = max(due, not_before)
        if timer is not None:
            firing = timer.lease_until is not None and timer.lease_until > now
            if not firing and timer.due_at <= due:
                return  # soon enough already
            if not firing:
                due = min(due, timer.due_at)
            # A poll under way may have looked for watches before this one was added: rescheduling the
            # key makes sure a timer outlives it (that poll's own reschedule replaces this one).
        await self._schedule(tenant, due, payload)

    async def fire(self, timer: Timer) -> None:
        tenant = _tenant(timer)
        resume = timer.payload.get("resume")
        previous = timer.payload.get("interval", self._interval.total_seconds())
        report = await self.poll(tenant, resume=resume if isinstance(resume, str) else None)
        if isinstance(previous, int | float) and report.interval.total_seconds() != previous:
            log.info(
                "watch polls of tenant %s now every %.1f s (was %.1f s): %d people, %s",
                tenant or "-",
                report.interval.total_seconds(),
                previous,
                report.people,
                f"Graph asked to wait {report.retry_after} s" if report.throttled else "no throttling",
            )

    async def give_up(self, timer: Timer, error: BaseException) -> None:
        tenant = _tenant(timer)
        log.error(
            "watch poll of tenant %s failed for good (%s); next poll in an interval", tenant or "-", error
        )
        if await self._store.tenant_has_watches(tenant):
            await self._schedule(tenant, self._clock.now() + self._interval, dict(timer.payload))

    # -- one poll ------------------------------------------------------------------------------------
    async def poll(self, tenant_id: str | None, *, resume: str | None = None) -> PollReport:
        """Expire the tenant's watches past their end, read everyone else watched (from `resume`, the
        first person a throttled poll did not reach), notify the watches met, and schedule the next
        poll while the tenant has watches."""
        tenant = tenant_id or ""
        started = self._clock.now()
        expired = await self._store.expire_watches(tenant, now=started)
        await self._notify(expired, None)
        waiting: dict[str, list[WatchTarget]] = collections.defaultdict(list)
        for watch in await self._store.tenant_watch_targets(tenant, now=started):
            waiting[watch.target_id.lower()].append(watch)
        people = sorted(waiting)
        if resume:
            cut = bisect.bisect_left(people, resume)
            people = people[cut:] + people[:cut]
        calls = read = fired = notified = 0
        throttled: GraphThrottled | None = None
        unread: str | None = None
        for start in range(0, len(people), PRESENCES_PER_CALL):
            if self._clock.now() - started > POLL_BUDGET:
                unread = people[start]
                log.warning("watch poll of tenant %s ran out of time; the rest waits", tenant or "-")
                break
            chunk = people[start : start + PRESENCES_PER_CALL]
            calls += 1
            try:
                presences = await self._reader.get_presences(
                    [waiting[person][0].target_id for person in chunk], tenant_id=tenant or None
                )
            except GraphThrottled as error:
                throttled, unread = error, people[start]
                break
            read += len(presences)
            ended, sent = await self._fire_met(waiting, presences)
            fired += ended
            notified += sent
        finished = self._clock.now()
        retry_after = throttled.retry_after if throttled is not None else None
        interval = self.effective_interval(len(people), retry_after)
        next_delay = await self._next(tenant, started, finished, interval, throttled, unread)
        report = PollReport(
            tenant=tenant,
            people=len(people),
            calls=calls,
            read=read,
            fired=fired,
            notified=notified,
            expired=len(expired),
            throttled=throttled is not None,
            retry_after=retry_after,
            interval=interval,
            next_delay=next_delay,
            seconds=(finished - started).total_seconds(),
        )
        self._recent.append(report)
        log.debug(
            "watch poll of tenant %s: %d people, %d call(s), %d fired, %d expired, %.3f s, next in %s",
            tenant or "-",
            report.people,
            report.calls,
            report.fired,
            report.expired,
            report.seconds,
            f"{next_delay.total_seconds():.1f} s" if next_delay is not None else "- (no watch left)",
        )
        return report

    async def _fire_met(
        self, waiting: dict[str, list[WatchTarget]], presences: list[Presence]
    ) -> tuple[int, int]:
        """End the watches the presences meet (first), then notify those this call ended."""
        met: dict[int, Presence] = {}
        for presence in presences:
            for watch in waiting.get((presence.id or "").lower(), ()):
                if watch_met(watch.kind, presence.availability, presence.activity, presence.out_of_office):
                    met[watch.id] = presence
        if not met:
            return 0, 0
        ended = await self._store.finish_watches(met, WatchEnd.FIRED, now=self._clock.now())
        return len(ended), await self._notify(ended, [met[watch.id] for watch in ended])

    async def _notify(self, ended: list[Watch], presences: list[Presence] | None) -> int:
        """Notices for watches this poll ended (met, with their presence; or expired), a few at once;
        returns how many were sent. A failing notice is logged, never retried (the watch has ended)."""
        sent = 0
        for start in range(0, len(ended), _NOTICE_WIDTH):
            batch = range(start, min(start + _NOTICE_WIDTH, len(ended)))
            results = await asyncio.gather(
                *(
                    self._notifier.watch_met(ended[i], presences[i])
                    if presences is not None
                    else self._notifier.watch_expired(ended[i])
                    for i in batch
                ),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    log.warning("a watch notice failed: %r", result)
                elif result:
                    sent += 1
        return sent

    async def _next(
        self,
        tenant: str,
        started: datetime,
        finished: datetime,
        interval: timedelta,
        throttled: GraphThrottled | None,
        unread: str | None,
    ) -> timedelta | None:
        """Schedule the next poll (one interval after this one started, at least a moment after it
        ended, and not before Graph's Retry-After) while the tenant has watches."""
        if not await self._store.tenant_has_watches(tenant):
            return None
        due = max(started + interval, finished + _MIN_GAP)
        payload: dict[str, Any] = {"interval": interval.total_seconds()}
        if throttled is not None:
            wait = timedelta(seconds=throttled.retry_after) if throttled.retry_after is not None else interval
            due = max(due, finished + wait)
            payload["not_before"] = due.isoformat()
            log.warning(
                "watch poll of tenant %s throttled by Graph; next poll at %s", tenant or "-", due.isoformat()
            )
        if unread is not None:
            payload["resume"] = unread
        await self._schedule(tenant, due, payload)
        return due - finished

    async def _schedule(self, tenant: str, due: datetime, payload: dict[str, Any]) -> None:
        await self.timers.schedule(poll_key(tenant), POLL_KIND, due, {**payload, "tenant": tenant})


def _tenant(timer: Timer) -> str:
    """The tenant a poll timer is for (its payload says; else its key)."""
    return str(timer.payload.get("tenant", timer.key.removeprefix(POLL_KEY_PREFIX)))


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
