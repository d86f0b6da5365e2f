"""The retention timer on SQLite and PostgreSQL: one durable timer prunes the audit log daily and
reschedules itself, routed by kind beside the hold timers; and the kind router itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.clock import AdjustableClock
from bot.core.users import UserRef
from bot.store import Store, Timer, TimerService
from bot.store.dispatch import TimerDispatcher, UnknownTimerKind
from bot.store.retention import PRUNE_EVERY, PRUNE_KEY, PRUNE_KIND, Retention
from tests.support.store import run_due

ALEX = UserRef(user_id="aaaaaaaa-0000-0000-0000-000000000001", tenant_id="t-1")
DAY = timedelta(days=1).total_seconds()


def near(a: datetime, b: datetime) -> bool:
    """The adjustable clock keeps running between two readings."""
    return abs(a - b) < timedelta(seconds=5)


class Holds:
    """Stands in for the hold keeper: records the firings routed to it."""

    def __init__(self) -> None:
        self.fired: list[str] = []
        self.given_up: list[str] = []

    async def fire(self, timer: Timer) -> None:
        self.fired.append(timer.key)

    async def give_up(self, timer: Timer, error: BaseException) -> None:
        self.given_up.append(timer.key)


@pytest.fixture
async def wired(
    store: Store, store_clock: AdjustableClock
) -> AsyncIterator[tuple[TimerService, Retention, Holds]]:
    holds = Holds()
    retention = Retention(store, store_clock, days=30, batch=2)
    routes = TimerDispatcher()
    routes.route(["refresh", "end"], holds.fire, holds.give_up)
    routes.route(retention.kinds, retention.fire, retention.give_up)
    timers = TimerService(
        store, store_clock, routes.fire, owner="test", on_give_up=routes.give_up, max_attempts=1
    )
    retention.attach(timers)
    yield timers, retention, holds
    await timers.stop()


async def test_the_retention_timer_prunes_and_comes_back_daily(
    store: Store, store_clock: AdjustableClock, wired: tuple[TimerService, Retention, Holds]
) -> None:
    timers, retention, holds = wired
    for _ in range(5):
        await store.record_audit(ALEX, operation="setPresence", outcome="ok")
    store_clock.advance(31 * DAY)
    await store.record_audit(ALEX, operation="clearPresence", outcome="ok")
    await timers.schedule("hold:1:end", "end", store_clock.now())

    await retention.start()  # a new database: the first pass is due in a day
    first = await timers.get(PRUNE_KEY)
    assert first is not None and first.kind == PRUNE_KIND
    assert near(first.due_at, store_clock.now() + PRUNE_EVERY)
    assert await run_due(timers) == 1  # the hold's timer only
    store_clock.advance(DAY)
    assert await run_due(timers) == 1  # the pass

    assert holds.fired == ["hold:1:end"]  # the hold timer went to the hold keeper, the other did not
    assert [e.operation for e in await store.user_audit(ALEX.user_id)] == ["clearPresence"]
    following = await timers.get(PRUNE_KEY)
    assert following is not None and near(following.due_at, store_clock.now() + PRUNE_EVERY)

    await retention.start()  # a restart leaves the scheduled pass where it is
    kept = await timers.get(PRUNE_KEY)
    assert kept is not None and kept.due_at == following.due_at

    store_clock.advance(30 * DAY)
    assert await run_due(timers) == 1  # one pass a day, however long the clock jumped
    assert await store.user_audit(ALEX.user_id) == []
    assert holds.fired == ["hold:1:end"]


async def test_a_failed_pass_is_tried_again_the_next_day(
    store: Store, store_clock: AdjustableClock, wired: tuple[TimerService, Retention, Holds]
) -> None:
    timers, retention, holds = wired

    async def broken(before: object, *, batch: int) -> object:
        raise OSError("disk full")

    await retention.start()
    store_clock.advance(DAY)
    store.prune = broken  # type: ignore[method-assign,assignment]
    assert await run_due(timers) == 1  # max_attempts=1: given up at once
    again = await timers.get(PRUNE_KEY)
    assert again is not None and near(again.due_at, store_clock.now() + PRUNE_EVERY)
    assert holds.given_up == []


async def test_the_router_sends_each_kind_to_its_one_handler() -> None:
    routes = TimerDispatcher()
    holds = Holds()
    routes.route(["refresh", "end"], holds.fire, holds.give_up)
    with pytest.raises(ValueError, match="already has a handler"):
        routes.route(["end"], holds.fire)
    assert routes.kinds == {"refresh", "end"}
    timer = Timer.model_validate(
        {
            "id": 1,
            "key": "future:1",
            "kind": "from-a-newer-version",
            "payload": {},
            "due_at": AdjustableClock().now(),
            "generation": 1,
            "hold_id": None,
            "lease_owner": None,
            "lease_until": None,
            "attempts": 1,
            "last_error": None,
            "created_at": AdjustableClock().now(),
        }
    )
    # An unknown kind fails (so it is retried, maybe by a replica that knows it) rather than completing.
    with pytest.raises(UnknownTimerKind):
        await routes.fire(timer)
    await routes.give_up(timer, UnknownTimerKind("x"))  # nobody to tell: nothing happens
    assert holds.fired == [] and holds.given_up == []
