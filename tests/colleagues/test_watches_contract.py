"""One contract for the colleagues service's watch store (`WatchStore`: `add_watch`, `active_watches`,
`cancel_watches`), run against every implementation the tests use, so the hand-written fake cannot drift
from the real thing:

- `FakeWatches` (tests/support/fakes.py), which the service tests run on;
- the real `Store`, on SQLite and on PostgreSQL (the `store` fixture).

Each case states what a user would notice through `/watch`, `/watches` and `/unwatch`: the cap refusing
one more, asking again extending the watch instead of adding a second, where its notice goes, a watch
past its end no longer listed, what a cancel says it stopped. A suite class per implementation inherits the
cases (`WatchContract`) and provides the `watches` fixture, as tests/graph/test_port_contract.py does for
Graph.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.colleagues.ports import WatchCapReached, WatchStore
from bot.core.colleagues import Colleague, Watch, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.store import Store
from tests.support.fakes import FakeWatches

TENANT = "11111111-2222-3333-4444-555555555555"
ALEX = UserRef(user_id="aaaaaaaa-0000-0000-0000-000000000001", tenant_id=TENANT, name="Alex")
BLAKE = UserRef(user_id="bbbbbbbb-0000-0000-0000-000000000002", tenant_id=TENANT, name="Blake")
MEGAN = Colleague(aad_id="dddddddd-0000-0000-0000-000000000004", name="Megan Bowen", upn="megan@contoso.com")
NESTOR = Colleague(aad_id="eeeeeeee-0000-0000-0000-000000000005", name="Nestor Wilke")
LYNNE = Colleague(aad_id="ffffffff-0000-0000-0000-000000000006", name="Lynne Robbins")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def watch(
    watches: WatchStore,
    target: Colleague = MEGAN,
    *,
    watcher: UserRef = ALEX,
    kind: WatchKind = WatchKind.FREE,
    now: datetime = NOW,
    lasting: timedelta = HOUR,
    conversation_id: str | None = "19:chat",
    cap: int = 20,
) -> Watch:
    return await watches.add_watch(
        watcher, target, kind, ends_at=now + lasting, conversation_id=conversation_id, now=now, cap=cap
    )


def seen(watch: Watch) -> tuple[int, str, str, WatchKind, str | None, datetime]:
    """What `/watches` and a watch's notice show of it: which, whom, what for, where, until when."""
    return (
        watch.id,
        watch.target.aad_id,
        watch.target.name,
        watch.kind,
        watch.conversation_id,
        watch.ends_at,
    )


class WatchContract:
    """The cases; a subclass provides the `watches` fixture."""

    async def test_a_watch_is_listed_for_its_watcher_only(self, watches: WatchStore) -> None:
        started = await watch(watches)
        assert (started.watcher.key, started.target.aad_id, started.kind) == (
            ALEX.key,
            MEGAN.aad_id,
            WatchKind.FREE,
        )
        assert (started.conversation_id, started.ends_at) == ("19:chat", NOW + HOUR)
        assert started.ended_at is None and started.end_reason is None
        assert [seen(w) for w in await watches.active_watches(ALEX, now=NOW)] == [seen(started)]
        assert await watches.active_watches(BLAKE, now=NOW) == []

    async def test_asking_again_extends_the_watch_instead_of_adding_a_second(
        self, watches: WatchStore
    ) -> None:
        first = await watch(watches, conversation_id="19:first")
        again = await watch(watches, lasting=3 * HOUR, conversation_id="19:second")
        assert again.id == first.id
        assert (again.ends_at, again.conversation_id) == (NOW + 3 * HOUR, "19:second")
        assert [seen(w) for w in await watches.active_watches(ALEX, now=NOW)] == [seen(again)]

    async def test_asking_again_from_nowhere_keeps_where_the_notice_goes(self, watches: WatchStore) -> None:
        await watch(watches, conversation_id="19:first")
        again = await watch(watches, lasting=2 * HOUR, conversation_id=None)
        assert again.conversation_id == "19:first" and again.ends_at == NOW + 2 * HOUR

    async def test_waiting_for_back_and_for_free_are_two_watches(self, watches: WatchStore) -> None:
        free = await watch(watches)
        back = await watch(watches, kind=WatchKind.BACK)
        assert free.id != back.id
        assert [w.kind for w in await watches.active_watches(ALEX, now=NOW)] == [
            WatchKind.FREE,
            WatchKind.BACK,
        ]

    async def test_the_cap_refuses_one_more_but_not_an_extension(self, watches: WatchStore) -> None:
        await watch(watches, MEGAN, cap=2)
        await watch(watches, NESTOR, cap=2)
        with pytest.raises(WatchCapReached) as refused:
            await watch(watches, LYNNE, cap=2)
        assert refused.value.cap == 2
        extended = await watch(watches, NESTOR, lasting=2 * HOUR, cap=2)
        assert extended.ends_at == NOW + 2 * HOUR
        assert [w.target.aad_id for w in await watches.active_watches(ALEX, now=NOW)] == [
            MEGAN.aad_id,
            NESTOR.aad_id,
        ]
        await watches.cancel_watches(ALEX, MEGAN.aad_id, now=NOW)
        assert (await watch(watches, LYNNE, cap=2)).target.aad_id == LYNNE.aad_id, (
            "a cancelled one frees a place"
        )
        await watch(watches, LYNNE, watcher=BLAKE, cap=2)  # the cap is per watcher

    async def test_a_watch_past_its_end_is_not_listed_nor_counted_and_asking_again_starts_afresh(
        self, watches: WatchStore
    ) -> None:
        old = await watch(watches, MEGAN, cap=1)
        later = NOW + 2 * HOUR
        assert await watches.active_watches(ALEX, now=later) == []
        new = await watch(watches, MEGAN, now=later, cap=1)
        assert new.id != old.id and new.ends_at == later + HOUR
        assert [w.id for w in await watches.active_watches(ALEX, now=later)] == [new.id]

    async def test_listed_oldest_first(self, watches: WatchStore) -> None:
        await watch(watches, NESTOR)
        await watch(watches, MEGAN, now=NOW + timedelta(minutes=1))
        await watch(watches, LYNNE, now=NOW + timedelta(minutes=2))
        at = NOW + timedelta(minutes=3)
        assert [w.target.name for w in await watches.active_watches(ALEX, now=at)] == [
            "Nestor Wilke",
            "Megan Bowen",
            "Lynne Robbins",
        ]

    async def test_unwatching_one_colleague_says_which_watches_it_stopped(self, watches: WatchStore) -> None:
        free = await watch(watches, MEGAN)
        back = await watch(watches, MEGAN, kind=WatchKind.BACK)
        other = await watch(watches, NESTOR)
        later = NOW + timedelta(minutes=5)
        stopped = await watches.cancel_watches(ALEX, MEGAN.aad_id, now=later)
        assert sorted(w.id for w in stopped) == sorted([free.id, back.id])
        assert {(w.end_reason, w.ended_at) for w in stopped} == {(WatchEnd.CANCELLED, later)}
        assert [w.id for w in await watches.active_watches(ALEX, now=later)] == [other.id]
        assert await watches.cancel_watches(ALEX, MEGAN.aad_id, now=later) == [], "stopped once"

    async def test_unwatching_everyone_stops_all_of_the_watchers_own(self, watches: WatchStore) -> None:
        first = await watch(watches, MEGAN)
        second = await watch(watches, NESTOR, now=NOW + timedelta(minutes=1))
        blakes = await watch(watches, MEGAN, watcher=BLAKE)
        at = NOW + timedelta(minutes=2)
        stopped = await watches.cancel_watches(ALEX, None, now=at)
        assert [w.id for w in stopped] == [first.id, second.id]
        assert await watches.active_watches(ALEX, now=at) == []
        assert [w.id for w in await watches.active_watches(BLAKE, now=at)] == [blakes.id]

    async def test_a_watch_ends_after_it_starts(self, watches: WatchStore) -> None:
        with pytest.raises(ValueError):
            await watch(watches, lasting=timedelta(0))


# -- the implementations -----------------------------------------------------------------------------------
class TestFakeWatches(WatchContract):
    @pytest.fixture
    def watches(self) -> WatchStore:
        return FakeWatches()


class TestStore(WatchContract):
    @pytest.fixture
    def watches(self, store: Store) -> WatchStore:
        return store
