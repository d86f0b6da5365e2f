"""Durable timers on SQLite and PostgreSQL: due times, the advanceable clock, retries and replicas."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import AdjustableClock
from bot.store import Store, Timer, TimerService, open_store
from bot.store.timers import TimerAbandoned
from tests.support.store import run_due

# Long enough that only a wake-up (schedule, clock jump, finished handler) explains a prompt firing.
NO_POLL = timedelta(minutes=10)
PROMPT = 2.0  # seconds within which a due timer must fire


@pytest.fixture
def clock(store_clock: AdjustableClock) -> AdjustableClock:
    """The clock of the `store` fixture (tests/support/fixtures.py)."""
    return store_clock


PROBE = "probe"  # the kind of the timers `Recorder.probe` schedules


class Recorder:
    """A handler that records each firing; `behaviour` may fail or reschedule.

    `probe()` shows that the service has looked at the table after a given moment, so a test can assert
    that something did *not* fire without sleeping: see its docstring.
    """

    def __init__(self, behaviour: Callable[[Timer], Awaitable[None]] | None = None) -> None:
        self.fired: list[Timer] = []  # the firings of the tests' timers (probes apart)
        self.finished = 0  # handler calls (behaviour included) that have returned or raised
        self.probes: list[Timer] = []
        self.changed = asyncio.Event()
        self._behaviour = behaviour

    async def __call__(self, timer: Timer) -> None:
        if timer.kind == PROBE:
            self.probes.append(timer)
            self.changed.set()
            return
        self.fired.append(timer)
        self.changed.set()
        try:
            if self._behaviour is not None:
                await self._behaviour(timer)
        finally:
            self.finished += 1
            self.changed.set()

    @property
    def keys(self) -> list[str]:
        return [timer.key for timer in self.fired]

    async def _until(self, condition: Callable[[], bool], within: float) -> None:
        async def reached() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(reached(), within)

    async def wait_for(self, count: int, within: float = PROMPT) -> None:
        """Until `count` firings have started."""
        await self._until(lambda: len(self.fired) >= count, within)

    async def wait_finished(self, count: int, within: float = PROMPT) -> None:
        """Until `count` handler calls have returned (or raised)."""
        await self._until(lambda: self.finished >= count, within)

    async def probe(self, service: TimerService, clock: AdjustableClock) -> None:
        """Schedule a timer due now through `service` (which wakes its loop) and wait until it fires.

        Due timers are claimed in due order and their handlers started in that order, so once the probe
        has fired, every timer that was due when it was scheduled has fired before it: a test that then
        finds a timer not fired knows the service looked, at a time on the clock, and left it alone.
        """
        seen = len(self.probes)
        await service.schedule(f"{PROBE}:{seen + 1}", PROBE, clock.now())
        await self._until(lambda: len(self.probes) > seen, PROMPT)


@pytest.fixture
async def services() -> AsyncIterator[list[TimerService]]:
    """Started services, stopped at the end of the test."""
    started: list[TimerService] = []
    yield started
    for service in started:
        await service.stop()


async def start(services: list[TimerService], service: TimerService) -> TimerService:
    await service.start()
    services.append(service)
    return service


async def eventually(check: Callable[[], Awaitable[bool]], within: float = PROMPT) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_fires_promptly_when_the_clock_jumps_past_the_due_time(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    recorder = Recorder()
    service = await start(services, TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL))
    due = clock.now() + timedelta(hours=1)
    await service.schedule("hold:1:refresh", "refresh", due, {"hold_id": 1})
    await recorder.probe(service, clock)
    assert recorder.fired == []

    clock.advance(3600 + 1)
    await recorder.wait_for(1)  # well before the 10-minute poll: the jump woke the loop
    [timer] = recorder.fired
    assert (timer.key, timer.kind, timer.payload, timer.due_at) == (
        "hold:1:refresh",
        "refresh",
        {"hold_id": 1},
        due,
    )
    assert (timer.attempts, timer.lease_owner) == (1, "a")

    async def deleted() -> bool:
        return await service.get("hold:1:refresh") is None

    await eventually(deleted)


async def test_fires_at_the_due_time_without_a_clock_jump(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    started: list[datetime] = []

    async def note_the_time(timer: Timer) -> None:
        started.append(clock.now())

    recorder = Recorder(note_the_time)
    service = await start(services, TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL))
    due = clock.now() + timedelta(milliseconds=300)
    await service.schedule("soon", "ping", due)
    await recorder.wait_for(1, within=1.5)
    assert started[0] >= due, "fired before its due time"
    assert recorder.fired[0].due_at <= clock.now()


async def test_rescheduling_replaces_the_timer(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    recorder = Recorder()
    service = TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL)
    first = await service.schedule("hold:7:end", "end", clock.now() + timedelta(hours=1), {"v": 1})
    second = await service.schedule("hold:7:end", "end", clock.now() + timedelta(hours=2), {"v": 2})
    assert (second.id, second.generation) == (first.id, first.generation + 1)
    assert (await store.counts()).timers == 1
    await start(services, service)

    clock.advance(3600 + 1)
    await recorder.probe(service, clock)
    assert recorder.fired == []  # the first due time is gone
    clock.advance(3600)
    await recorder.wait_for(1)
    await recorder.probe(service, clock)
    assert [timer.payload for timer in recorder.fired] == [{"v": 2}]


async def test_rescheduling_earlier_wakes_the_loop(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    recorder = Recorder()
    service = await start(services, TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL))
    await service.schedule("later", "end", clock.now() + timedelta(hours=3))
    await recorder.probe(service, clock)  # the loop has run, and sleeps until the poll
    await service.schedule("later", "end", clock.now())
    await recorder.wait_for(1)


async def test_the_safety_poll_finds_timers_other_replicas_scheduled(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    recorder = Recorder()
    b = await start(
        services, TimerService(store, clock, recorder, owner="b", poll_interval=timedelta(milliseconds=300))
    )
    await recorder.probe(b, clock)  # b's loop has run, and sleeps until its next poll
    elsewhere = TimerService(store, clock, recorder, owner="a")  # another replica, not running here
    await elsewhere.schedule("from-a", "refresh", clock.now())
    await recorder.wait_for(1)
    assert recorder.fired[0].lease_owner == "b"


async def test_cancel_removes_the_timer(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    recorder = Recorder()
    service = await start(services, TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL))
    await service.schedule("hold:3:refresh", "refresh", clock.now() + timedelta(minutes=30))
    assert await service.cancel("hold:3:refresh") is True
    assert await service.cancel("hold:3:refresh") is False
    clock.advance(3600)
    await recorder.probe(service, clock)
    assert recorder.fired == []
    assert await service.get("hold:3:refresh") is None


async def test_overdue_timers_fire_at_once_on_start_in_due_order(
    store: Store, clock: AdjustableClock
) -> None:
    recorder = Recorder()
    service = TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL, concurrency=1)
    now = clock.now()
    for minutes, key in [(5, "c"), (30, "a"), (10, "b")]:
        await service.schedule(key, "refresh", now - timedelta(minutes=minutes))
    await service.schedule("future", "refresh", now + timedelta(hours=1))
    await service.start()
    try:
        await recorder.wait_for(3)
        assert recorder.keys == ["a", "b", "c"]
    finally:
        await service.stop()
    assert (await store.counts()).timers == 1


async def test_a_failing_handler_is_retried_with_backoff_then_given_up(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    async def fail(timer: Timer) -> None:
        raise RuntimeError(f"Graph said no ({timer.attempts})")

    given_up: list[tuple[Timer, BaseException]] = []

    async def give_up(timer: Timer, error: BaseException) -> None:
        given_up.append((timer, error))

    recorder = Recorder(fail)
    service = TimerService(
        store,
        clock,
        recorder,
        owner="a",
        poll_interval=NO_POLL,
        max_attempts=3,
        retry_backoff=timedelta(minutes=1),
        on_give_up=give_up,
    )
    await start(services, service)
    await service.schedule("hold:9:refresh", "refresh", clock.now())
    await recorder.wait_for(1)

    async def retry_recorded() -> bool:
        timer = await service.get("hold:9:refresh")
        return timer is not None and timer.lease_owner is None

    await eventually(retry_recorded)
    retry = await service.get("hold:9:refresh")
    assert retry is not None
    assert retry.last_error == "RuntimeError: Graph said no (1)"
    assert timedelta(seconds=55) < retry.due_at - clock.now() <= timedelta(minutes=1)  # first backoff

    await recorder.probe(service, clock)
    assert len(recorder.fired) == 1  # not before the backoff
    clock.advance(61)
    await recorder.wait_for(2)
    await eventually(retry_recorded)
    clock.advance(121)  # the backoff doubles
    await recorder.wait_for(3)

    async def gone() -> bool:
        return await service.get("hold:9:refresh") is None

    await eventually(gone)
    assert [timer.attempts for timer in recorder.fired] == [1, 2, 3]
    assert len(given_up) == 1
    timer, error = given_up[0]
    assert timer.key == "hold:9:refresh" and str(error) == "Graph said no (3)"


async def test_a_handler_that_fails_once_then_succeeds(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    async def flaky(timer: Timer) -> None:
        if timer.attempts == 1:
            raise ConnectionError("throttled")

    recorder = Recorder(flaky)
    service = TimerService(
        store, clock, recorder, owner="a", poll_interval=NO_POLL, retry_backoff=timedelta(milliseconds=100)
    )
    await start(services, service)
    await service.schedule("k", "refresh", clock.now())
    await recorder.wait_for(2)

    async def gone() -> bool:
        return await service.get("k") is None

    await eventually(gone)  # done: nothing left to fire again
    assert [timer.attempts for timer in recorder.fired] == [1, 2]


async def test_a_handler_that_reschedules_its_own_key_keeps_the_timer(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    service: TimerService

    async def refresh_again(timer: Timer) -> None:
        if timer.payload["round"] < 3:
            await service.schedule(
                timer.key,
                timer.kind,
                timer.due_at + timedelta(minutes=4),
                {"round": timer.payload["round"] + 1},
            )

    recorder = Recorder(refresh_again)
    service = TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL)
    await start(services, service)
    await service.schedule("hold:5:refresh", "refresh", clock.now(), {"round": 1})
    await recorder.wait_finished(1)
    kept = await service.get("hold:5:refresh")
    assert kept is not None
    assert (kept.payload, kept.generation, kept.lease_owner, kept.attempts) == ({"round": 2}, 2, None, 0)

    clock.advance(4 * 60 + 1)
    await recorder.wait_for(2)
    clock.advance(4 * 60 + 1)
    await recorder.wait_for(3)

    async def gone() -> bool:
        return await service.get("hold:5:refresh") is None

    await eventually(gone)  # round 3 did not reschedule: nothing left to fire again
    assert [timer.payload["round"] for timer in recorder.fired] == [1, 2, 3]


async def test_a_slow_handler_does_not_hold_up_other_timers(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    release = asyncio.Event()

    async def maybe_block(timer: Timer) -> None:
        if timer.key == "slow":
            await release.wait()

    recorder = Recorder(maybe_block)
    service = await start(services, TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL))
    await service.schedule("slow", "refresh", clock.now())
    await recorder.wait_for(1)
    await service.schedule("fast", "refresh", clock.now())
    await recorder.wait_for(2)
    assert recorder.keys == ["slow", "fast"]
    release.set()


async def test_another_replica_takes_over_when_the_lease_of_a_dead_one_expires(
    store: Store, clock: AdjustableClock, services: list[TimerService]
) -> None:
    async def never(timer: Timer) -> None:
        raise AssertionError("the dead replica never runs its handler")

    dead = TimerService(store, clock, never, owner="replica-a", lease=timedelta(seconds=30))
    await dead.schedule("hold:2:refresh", "refresh", clock.now())
    [claimed] = await dead.claim()  # ...and then replica-a dies
    assert (claimed.lease_owner, claimed.attempts) == ("replica-a", 1)

    recorder = Recorder()
    survivor = await start(
        services, TimerService(store, clock, recorder, owner="replica-b", poll_interval=NO_POLL)
    )
    await recorder.probe(survivor, clock)
    assert recorder.fired == []  # the lease still stands

    clock.advance(31)
    await recorder.wait_for(1)
    [timer] = recorder.fired
    assert (timer.key, timer.lease_owner, timer.attempts) == ("hold:2:refresh", "replica-b", 2)


async def test_a_timer_that_keeps_killing_its_replica_is_given_up(
    store: Store, clock: AdjustableClock
) -> None:
    dying = TimerService(store, clock, Recorder(), owner="doomed", lease=timedelta(seconds=30))
    await dying.schedule("poison", "refresh", clock.now())
    for _ in range(2):
        assert len(await dying.claim()) == 1
        clock.advance(31)

    given_up: list[BaseException] = []

    async def give_up(timer: Timer, error: BaseException) -> None:
        given_up.append(error)

    recorder = Recorder()
    survivor = TimerService(store, clock, recorder, owner="survivor", max_attempts=2, on_give_up=give_up)
    assert await run_due(survivor) == 1
    assert recorder.fired == []
    assert len(given_up) == 1 and isinstance(given_up[0], TimerAbandoned)
    assert await survivor.get("poison") is None


async def test_stop_waits_for_a_firing_under_way(store: Store, clock: AdjustableClock) -> None:
    async def slow(timer: Timer) -> None:
        await asyncio.sleep(0.3)

    recorder = Recorder(slow)
    service = TimerService(store, clock, recorder, owner="a", poll_interval=NO_POLL)
    await service.schedule("k", "refresh", clock.now())
    await service.start()
    await recorder.wait_for(1)
    await service.stop()
    assert not service.running
    assert await service.get("k") is None  # it finished and was deleted


async def test_stop_cancels_a_firing_past_the_grace_period_and_leaves_it_leased(
    store: Store, clock: AdjustableClock
) -> None:
    async def hang(timer: Timer) -> None:
        await asyncio.sleep(3600)

    service = TimerService(store, clock, Recorder(hang), owner="a", poll_interval=NO_POLL)
    await service.schedule("k", "refresh", clock.now())
    await service.start()
    await eventually(lambda: _leased(service, "k"))
    await service.stop(grace=timedelta(milliseconds=100))
    left = await service.get("k")
    assert left is not None and left.lease_owner == "a"  # another replica fires it once the lease expires


async def _leased(service: TimerService, key: str) -> bool:
    timer = await service.get(key)
    return timer is not None and timer.lease_owner is not None


@pytest.fixture
async def replica_stores(
    store_url: str,
    tmp_path: Path,
    clock: AdjustableClock,
) -> AsyncIterator[list[Store]]:
    """Two stores (two engines, two connection pools) on one database: two replicas' views of it."""
    stores: list[Store] = []
    try:
        for _ in range(2):
            stores.append(await open_store(store_url, tmp_path, clock))
        yield stores
    finally:
        for opened in stores:
            await opened.close()


async def test_two_replicas_fire_every_timer_exactly_once(
    store_url: str,
    replica_stores: list[Store],
    clock: AdjustableClock,
) -> None:
    """Two replicas, 1,000 timers scheduled by each (200 on SQLite, whose single writer makes the run
    slower without proving more); every timer fires once, none twice, none missed."""
    per_replica = 1000 if store_url.startswith("postgresql") else 200
    fired: Counter[str] = Counter()
    by_owner: Counter[str] = Counter()

    async def count(timer: Timer) -> None:
        fired[timer.key] += 1
        by_owner[timer.lease_owner or "?"] += 1
        await asyncio.sleep(0)

    # Modest handler concurrency and scheduling width keep each replica within ~10 connections, so
    # parallel test runs stay below PostgreSQL's max_connections.
    replicas = [
        TimerService(
            store,
            clock,
            count,
            owner=f"replica-{index}",
            concurrency=8,
            poll_interval=timedelta(seconds=1),
        )
        for index, store in enumerate(replica_stores)
    ]
    now = clock.now()
    expected = {f"r{index}:{number}" for index in range(2) for number in range(per_replica)}
    for index, replica in enumerate(replicas):
        keys = [f"r{index}:{number}" for number in range(per_replica)]
        for chunk in range(0, per_replica, 8):
            await asyncio.gather(
                *(
                    replica.schedule(key, "refresh", now + timedelta(milliseconds=number))
                    for number, key in enumerate(keys[chunk : chunk + 8], start=chunk)
                )
            )
    assert (await replica_stores[0].counts()).timers == len(expected)
    clock.advance(2)
    try:
        await asyncio.gather(*(replica.start() for replica in replicas))

        async def all_fired() -> bool:
            return len(fired) == len(expected)

        await eventually(all_fired, within=40)

        async def quiet() -> bool:
            """No row left to claim and no handler running: no duplicate can arrive any more (a firing
            under way holds its row, leased, until it is done and deleted; a finished one is counted)."""
            left = (await replica_stores[0].counts()).timers
            return left == 0 and all(replica.stats()["inflight"] == 0 for replica in replicas)

        await eventually(quiet, within=10)
    finally:
        for replica in replicas:
            await replica.stop()
    assert set(fired) == expected
    assert {key: times for key, times in fired.items() if times != 1} == {}
    assert (await replica_stores[0].counts()).timers == 0
    assert all(by_owner[replica.owner] > 0 for replica in replicas), by_owner  # both took part
