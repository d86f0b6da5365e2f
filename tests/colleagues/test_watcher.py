"""The per-tenant watcher on SQLite and PostgreSQL, with a scripted presence reader and the adjustable
clock: one Graph call per 650 distinct people, one notice per watcher, never two for one watch, the
interval stretched by the bulk window and by Retry-After, and polls that survive a restart and run
once per interval across two replicas."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.clock import AdjustableClock
from bot.colleagues.watcher import POLL_BUDGET, POLL_KIND, Watcher, poll_key
from bot.core.colleagues import Colleague, Watch, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.graph.errors import GraphThrottled
from bot.graph.models import OutOfOfficeSettings, Presence
from bot.store import Store, Timer, TimerService, open_store
from bot.store.dispatch import TimerDispatcher
from bot.store.schema import watches
from tests.support.store import end_watch, list_audit, run_due
from tests.support.waiting import eventually

TENANT = "11111111-2222-3333-4444-555555555555"
ALEX = UserRef(user_id="aaaaaaaa-0000-0000-0000-000000000001", tenant_id=TENANT, name="Alex")
BLAKE = UserRef(user_id="bbbbbbbb-0000-0000-0000-000000000002", tenant_id=TENANT, name="Blake")
MEGAN = Colleague(aad_id="dddddddd-0000-0000-0000-000000000004", name="Megan Bowen")
NESTOR = Colleague(aad_id="eeeeeeee-0000-0000-0000-000000000005", name="Nestor Wilke")
INTERVAL = timedelta(seconds=60)


def person(number: int) -> str:
    return f"ffffffff-0000-0000-0000-{number:012d}"


class Reader:
    """getPresencesByUserId, scripted: everyone is Offline unless `set`; `throttle` makes the next calls
    raise a 429 that could not be waited out."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.presences: dict[str, Presence] = {}
        self.throttle: list[float | None] = []  # Retry-After of each call to throttle, in order
        self.throttle_at_call = 1  # the throttling starts at this call (1-based, counting every call)
        self.error: Exception | None = None  # every call fails with it (Graph refusing, say)
        self.slow: tuple[AdjustableClock, float] | None = None  # each call moves this clock on this much

    def set(self, user_id: str, availability: str, activity: str | None = None, *, oof: bool = False) -> None:
        self.presences[user_id.lower()] = Presence(
            id=user_id.lower(),
            availability=availability,
            activity=activity or availability,
            out_of_office_settings=OutOfOfficeSettings(is_out_of_office=oof),
        )

    async def get_presences(self, user_ids: Sequence[str], *, tenant_id: str | None = None) -> list[Presence]:
        assert tenant_id == TENANT and 0 < len(user_ids) <= 650
        self.calls.append(list(user_ids))
        if self.error is not None:
            raise self.error
        if self.slow is not None:
            clock, seconds = self.slow
            clock.advance(seconds)
        if self.throttle and len(self.calls) >= self.throttle_at_call:
            error = GraphThrottled("Too many requests", code="TooManyRequests")
            error.retry_after = self.throttle.pop(0)
            raise error
        await asyncio.sleep(0)
        return [
            self.presences.get(
                user_id.lower(), Presence(id=user_id.lower(), availability="Offline", activity="Offline")
            )
            for user_id in user_ids
        ]


class Notifier:
    def __init__(self) -> None:
        self.met: list[tuple[str, str, str]] = []  # (watcher, whom, availability)
        self.expired: list[tuple[str, str]] = []

    async def watch_met(self, watch: Watch, presence: Presence) -> bool:
        self.met.append((watch.watcher.user_id, watch.target.name, presence.availability))
        return True

    async def watch_expired(self, watch: Watch) -> bool:
        self.expired.append((watch.watcher.user_id, watch.target.name))
        return True


class Bot:
    """One replica: a watcher on its store, its timer service (not started unless asked)."""

    def __init__(
        self,
        store: Store,
        clock: AdjustableClock,
        reader: Reader,
        notifier: Notifier,
        *,
        interval: timedelta = INTERVAL,
        bulk_calls_per_window: int = 1500,
    ) -> None:
        self.store = store
        self.clock = clock
        self.watcher = Watcher(
            store, reader, clock, notifier, interval=interval, bulk_calls_per_window=bulk_calls_per_window
        )
        routes = TimerDispatcher()
        routes.route(self.watcher.kinds, self.watcher.fire, self.watcher.give_up)
        self.timers = TimerService(
            store, clock, routes.fire, owner=f"replica-{id(self)}", on_give_up=routes.give_up, max_attempts=1
        )
        self.watcher.attach(self.timers)

    async def timer(self) -> Timer | None:
        return await self.timers.get(poll_key(TENANT))

    async def quiet(self) -> bool:
        """No poll can start before the clock moves: the timer is neither leased nor due, and no
        firing is under way."""
        timer = await self.timer()
        waiting = timer is None or (timer.lease_owner is None and timer.due_at > self.clock.now())
        return waiting and self.timers.stats()["inflight"] == 0


@pytest.fixture
def reader() -> Reader:
    return Reader()


@pytest.fixture
def notifier() -> Notifier:
    return Notifier()


@pytest.fixture
async def replica(
    store: Store, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> AsyncIterator[Bot]:
    one = Bot(store, store_clock, reader, notifier)
    yield one
    await one.timers.stop()


async def watch(
    replica: Bot,
    clock: AdjustableClock,
    target: Colleague,
    watcher: UserRef = ALEX,
    kind: WatchKind = WatchKind.FREE,
    lasting: timedelta = timedelta(hours=8),
) -> Watch:
    now = clock.now()
    added = await replica.store.add_watch(
        watcher, target, kind, ends_at=now + lasting, conversation_id=None, now=now, cap=20
    )
    await replica.watcher.watching(TENANT)
    return added


async def seed(store: Store, clock: AdjustableClock, people: int, *, watchers_each: int = 1) -> None:
    """`people` distinct colleagues, each watched by `watchers_each` distinct users (stored in bulk)."""
    now = clock.now()
    rows = [
        {
            "tenant_id": TENANT,
            "user_id": f"watcher-{number}-{copy}",
            "target_id": person(number),
            "target_name": f"Colleague {number}",
            "kind": "free",
            "created_at": now,
            "ends_at": now + timedelta(hours=8),
        }
        for number in range(people)
        for copy in range(watchers_each)
    ]
    async with store.write() as connection:
        await connection.execute(sa.insert(watches), rows)


def near(a: datetime, b: datetime) -> bool:
    return abs(a - b) < timedelta(seconds=5)  # the adjustable clock keeps running between readings


# -- one poll ---------------------------------------------------------------------------------------
async def test_one_graph_call_per_650_distinct_people_however_many_watch_them(
    replica: Bot, store_clock: AdjustableClock, reader: Reader
) -> None:
    await seed(replica.store, store_clock, 1301, watchers_each=2)
    report = await replica.watcher.poll(TENANT)
    assert (report.people, report.calls, report.read) == (1301, 3, 1301)
    assert [len(call) for call in reader.calls] == [650, 650, 1]
    assert len({user for call in reader.calls for user in call}) == 1301  # nobody read twice


async def test_two_watchers_of_one_person_one_read_and_a_notice_each(
    replica: Bot, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    await watch(replica, store_clock, MEGAN, ALEX)
    await watch(replica, store_clock, MEGAN, BLAKE)
    await watch(replica, store_clock, NESTOR, BLAKE)
    reader.set(MEGAN.aad_id.upper(), "Available")  # Graph may answer in another case
    reader.set(NESTOR.aad_id, "Busy", "InAMeeting")

    report = await replica.watcher.poll(TENANT)

    assert reader.calls == [sorted([MEGAN.aad_id, NESTOR.aad_id])]
    assert sorted(notifier.met) == [
        (ALEX.user_id, "Megan Bowen", "Available"),
        (BLAKE.user_id, "Megan Bowen", "Available"),
    ]
    assert (report.fired, report.notified, report.expired) == (2, 2, 0)
    assert [w.target.name for w in await replica.store.active_watches(BLAKE)] == ["Nestor Wilke"]
    fired = [e for e in await list_audit(replica.store, ALEX) if e.outcome == "fired"]
    assert (
        len(fired) == 1 and fired[0].request is not None and fired[0].request["target"]["id"] == MEGAN.aad_id
    )


async def test_back_means_at_their_desk_and_not_out_of_office(
    replica: Bot, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    await watch(replica, store_clock, MEGAN, kind=WatchKind.BACK)
    await watch(replica, store_clock, NESTOR, kind=WatchKind.BACK)
    reader.set(MEGAN.aad_id, "Busy", "InACall")
    reader.set(NESTOR.aad_id, "Available", oof=True)
    await replica.watcher.poll(TENANT)
    assert notifier.met == [(ALEX.user_id, "Megan Bowen", "Busy")]
    reader.set(NESTOR.aad_id, "Available")  # their automatic replies are off again
    await replica.watcher.poll(TENANT)
    assert notifier.met[1:] == [(ALEX.user_id, "Nestor Wilke", "Available")]


async def test_nothing_fires_twice_when_a_poll_runs_twice(
    replica: Bot, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    for watcher in (ALEX, BLAKE):
        await watch(replica, store_clock, MEGAN, watcher)
    reader.set(MEGAN.aad_id, "Available")
    reports = await asyncio.gather(*(replica.watcher.poll(TENANT) for _ in range(3)))  # a duplicated firing
    await replica.watcher.poll(TENANT)
    assert sorted(notifier.met) == [
        (ALEX.user_id, "Megan Bowen", "Available"),
        (BLAKE.user_id, "Megan Bowen", "Available"),
    ]
    assert sum(report.fired for report in reports) == 2


async def test_a_watch_past_its_end_expires_with_a_notice_and_no_graph_call(
    replica: Bot, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    await watch(replica, store_clock, MEGAN, lasting=timedelta(minutes=5))
    store_clock.advance(6 * 60)
    report = await replica.watcher.poll(TENANT)
    assert (report.expired, report.calls, report.next_delay) == (1, 0, None)
    assert notifier.expired == [(ALEX.user_id, "Megan Bowen")] and notifier.met == []
    assert [e.outcome for e in await list_audit(replica.store, ALEX)] == ["expired", "started"]


# -- the interval ---------------------------------------------------------------------------------------
async def test_the_interval_stretches_with_the_people_watched_and_retry_after(
    store: Store, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    watcher = Watcher(store, reader, store_clock, notifier, interval=timedelta(seconds=5))
    assert watcher.effective_interval(5000) == timedelta(seconds=5)  # 8 calls in 5 s: far from the limit
    # A poll of 650 × 1,000 people a second apart would use 1,000 × 30 calls in 30 s; half the
    # allowance (750 calls) lasts 30 × 1,000 / 750 = 40 s.
    assert watcher.effective_interval(650 * 1000) == timedelta(seconds=40)
    assert watcher.effective_interval(5000, retry_after=42.5) == timedelta(seconds=42.5)
    small = Watcher(
        store, reader, store_clock, notifier, interval=timedelta(seconds=5), bulk_calls_per_window=10
    )
    assert small.effective_interval(1301) == timedelta(seconds=18)  # 3 calls, 5 a window: 3 × 30 / 5


async def test_the_next_poll_keeps_to_the_bulk_window(
    store: Store, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    replica = Bot(
        store, store_clock, reader, notifier, interval=timedelta(seconds=5), bulk_calls_per_window=10
    )
    await seed(store, store_clock, 1301)
    report = await replica.watcher.poll(TENANT)
    assert report.interval == timedelta(seconds=18) and report.next_delay is not None
    timer = await replica.timer()
    assert timer is not None and near(timer.due_at, store_clock.now() + timedelta(seconds=18))
    assert timer.kind == POLL_KIND and timer.payload["interval"] == 18


async def test_a_throttled_poll_keeps_what_it_read_waits_retry_after_and_resumes_where_it_stopped(
    replica: Bot, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    await seed(replica.store, store_clock, 1301)
    for number in (0, 700, 1300):  # one person in each call's share
        reader.set(person(number), "Available")
    reader.throttle, reader.throttle_at_call = [120.0], 2

    report = await replica.watcher.poll(TENANT)

    assert report.throttled and report.retry_after == 120.0 and (report.calls, report.read) == (2, 650)
    assert report.interval == timedelta(seconds=120)
    assert [who for _, who, _ in notifier.met] == ["Colleague 0"]  # the first call's share is kept
    timer = await replica.timer()
    assert timer is not None and timer.due_at >= store_clock.now() + timedelta(seconds=119)
    await watch(replica, store_clock, MEGAN)  # a new watch does not pull the poll before Retry-After
    again = await replica.timer()
    assert again is not None and again.due_at == timer.due_at

    reader.calls.clear()
    resumed = await replica.watcher.poll(TENANT, resume=str(timer.payload["resume"]))
    assert reader.calls[0][0] == person(650)  # the people the throttled poll did not reach go first
    assert [len(call) for call in reader.calls] == [650, 650, 1]  # Colleague 0 fired; Megan is new
    assert sorted(who for _, who, _ in notifier.met) == ["Colleague 0", "Colleague 1300", "Colleague 700"]
    assert not resumed.throttled and resumed.interval == INTERVAL


async def test_a_slow_poll_stops_calling_within_the_lease_and_the_next_resumes_there(
    replica: Bot, store_clock: AdjustableClock, reader: Reader
) -> None:
    await seed(replica.store, store_clock, 1301)
    reader.slow = (store_clock, POLL_BUDGET.total_seconds() / 2 + 0.5)  # Graph answering very slowly
    report = await replica.watcher.poll(TENANT)
    assert (report.calls, report.read, report.throttled) == (2, 1300, False)  # no third call started
    timer = await replica.timer()
    assert timer is not None and timer.payload["resume"] == person(1300)
    reader.slow = None
    reader.calls.clear()
    await replica.watcher.poll(TENANT, resume=str(timer.payload["resume"]))
    assert reader.calls[0][0] == person(1300)


async def test_throttling_through_the_timers_lengthens_the_interval_then_restores_it(
    replica: Bot, store_clock: AdjustableClock, reader: Reader, caplog: pytest.LogCaptureFixture
) -> None:
    await watch(replica, store_clock, MEGAN)
    await replica.timers.start()
    reader.throttle = [300.0]
    caplog.set_level("INFO", logger="bot.colleagues.watcher")

    store_clock.advance(INTERVAL.total_seconds())
    await eventually(lambda: _polled(reader, 1), what="the first poll")
    throttled = await _rescheduled(replica)
    assert throttled.due_at >= store_clock.now() + timedelta(seconds=295)
    # The firing that rescheduled the timer is over (under load it can still be in flight here).
    await eventually(replica.quiet, what="the throttled poll's firing ending")

    store_clock.advance(INTERVAL.total_seconds())  # an interval is not enough: Graph asked for 300 s
    assert await replica.quiet() and len(reader.calls) == 1
    store_clock.advance(300)
    await eventually(lambda: _polled(reader, 2), what="the poll after Retry-After")
    restored = await _rescheduled(replica, after=throttled)
    assert near(restored.due_at, store_clock.now() + INTERVAL)
    changes = [r.getMessage() for r in caplog.records if "now every" in r.getMessage()]
    assert len(changes) == 2 and "every 300.0 s" in changes[0] and "every 60.0 s" in changes[1]


# -- the timers ---------------------------------------------------------------------------------------
async def test_watching_makes_a_timer_due_within_an_interval_and_start_never_pushes_it_back(
    replica: Bot, store_clock: AdjustableClock
) -> None:
    await watch(replica, store_clock, MEGAN)
    first = await replica.timer()
    assert first is not None and near(first.due_at, store_clock.now() + INTERVAL)
    store_clock.advance(30)
    await watch(replica, store_clock, NESTOR)
    await replica.watcher.start()
    kept = await replica.timer()
    assert kept is not None and kept.due_at == first.due_at and kept.generation == first.generation

    await replica.timers.schedule(
        poll_key(TENANT), POLL_KIND, store_clock.now() + timedelta(hours=1), {"tenant": TENANT}
    )
    await watch(replica, store_clock, MEGAN, BLAKE)  # a timer too far away is pulled in
    pulled = await replica.timer()
    assert pulled is not None and near(pulled.due_at, store_clock.now() + INTERVAL)

    await replica.timers.cancel(poll_key(TENANT))
    await replica.watcher.start()  # a lost timer is made again
    made = await replica.timer()
    assert made is not None and near(made.due_at, store_clock.now() + INTERVAL)


async def test_the_poll_timer_ends_with_the_last_watch_and_a_failed_poll_comes_back(
    replica: Bot, store_clock: AdjustableClock, reader: Reader
) -> None:
    added = await watch(replica, store_clock, MEGAN)
    store_clock.advance(INTERVAL.total_seconds())
    reader.error = RuntimeError("the directory is on fire")
    assert await run_due(replica.timers) == 1  # max_attempts=1: given up, and the next poll scheduled
    again = await replica.timer()
    assert again is not None and near(again.due_at, store_clock.now() + INTERVAL)

    reader.error = None
    await end_watch(replica.store, added.id, WatchEnd.CANCELLED, now=store_clock.now())
    store_clock.advance(INTERVAL.total_seconds())
    assert await run_due(replica.timers) == 1
    assert await replica.timer() is None  # no watch left: the tenant's timer ended


async def test_a_watch_survives_a_restart_and_is_polled_by_the_new_process(
    store_url: str, tmp_path: Path, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    first = Bot(await open_store(store_url, tmp_path, store_clock), store_clock, reader, notifier)
    await first.timers.start()
    await watch(first, store_clock, MEGAN)
    await first.timers.stop()
    await first.store.close()

    second = Bot(await open_store(store_url, tmp_path, store_clock), store_clock, reader, notifier)
    try:
        await second.watcher.start()
        await second.timers.start()
        reader.set(MEGAN.aad_id, "Available")
        store_clock.advance(INTERVAL.total_seconds())
        await eventually(lambda: _notified(notifier, 1), what="the watch firing after the restart")
        assert notifier.met == [(ALEX.user_id, "Megan Bowen", "Available")]
        assert await second.store.active_watches(ALEX) == []
    finally:
        await second.timers.stop()
        await second.store.close()


async def test_two_replicas_poll_once_per_interval_not_twice(
    store_url: str, tmp_path: Path, store_clock: AdjustableClock, reader: Reader, notifier: Notifier
) -> None:
    replicas = [
        Bot(await open_store(store_url, tmp_path, store_clock), store_clock, reader, notifier)
        for _ in range(2)
    ]
    try:
        for replica in replicas:
            await replica.watcher.start()
            await replica.timers.start()
        await watch(replicas[0], store_clock, MEGAN)
        await watch(replicas[1], store_clock, NESTOR, BLAKE)
        before = await replicas[0].timer()
        assert before is not None
        for poll in range(1, 6):
            store_clock.advance(INTERVAL.total_seconds())
            await eventually(functools.partial(_polled, reader, poll), what=f"poll {poll}")
            before = await _rescheduled(replicas[0], after=before)
        await eventually(lambda: _all_quiet(replicas), what="both replicas going quiet")
        assert len(reader.calls) == 5  # five intervals, five polls, one Graph call each
        fired_by = [r.watcher.recent_polls() for r in replicas]
        assert sum(len(polls) for polls in fired_by) == 5
    finally:
        for replica in replicas:
            await replica.timers.stop()
            await replica.store.close()


async def _all_quiet(replicas: list[Bot]) -> bool:
    return all([await replica.quiet() for replica in replicas])


async def _polled(reader: Reader, count: int) -> bool:
    return len(reader.calls) >= count


async def _notified(notifier: Notifier, count: int) -> bool:
    return len(notifier.met) >= count


async def _rescheduled(replica: Bot, after: Timer | None = None) -> Timer:
    """The poll timer once the firing under way has rescheduled it (a newer generation, not leased)."""
    found: list[Timer] = []

    async def done() -> bool:
        timer = await replica.timer()
        if timer is None or timer.lease_owner is not None:
            return False
        if after is not None and timer.generation <= after.generation:
            return False
        found.append(timer)
        return True

    await eventually(done, what="the poll timer rescheduled")
    return found[-1]
