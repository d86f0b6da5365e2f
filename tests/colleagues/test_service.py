"""The colleagues service alone, with the fake Graph, watches and roster: when a watch ends, who can be
looked up, and what a person is told when something is in the way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.colleagues.service import ColleaguesService
from bot.commands.colleagues import AddWatch, Unwatch, Who
from bot.commands.model import CommandError, When
from bot.core.colleagues import Colleague, Mention, RosterError, RosterPage
from bot.core.users import UserRef
from bot.graph.errors import GraphPermissionDenied
from bot.graph.models import Presence
from bot.store.effects import TurnUnit
from tests.support.fakes import FakeGraph, FakeWatches

TENANT = "tenant-1"
ME = UserRef(user_id="me", tenant_id=TENANT, name="Alex")
MEGAN = Colleague(
    aad_id="megan", name="Megan Bowen", tenant_id=TENANT, upn="megan@contoso.example", channel_id="29:m"
)
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 3 PM in Berlin


class Roster:
    def __init__(self, *people: Colleague, fails: bool = False) -> None:
        self.people = {p.channel_id: p for p in people}
        self.fails = fails

    async def member(self, channel_id: str) -> Colleague | None:
        if self.fails:
            raise RosterError("Teams answered 503")
        return self.people.get(channel_id)

    async def members(self, limit: int) -> RosterPage:
        if self.fails:
            raise RosterError("Teams answered 503")
        people = list(self.people.values())
        return RosterPage(members=tuple(people[:limit]), total=len(people), more=len(people) > limit)


def service(
    graph: FakeGraph | None = None, watches: FakeWatches | None = None, **kwargs: object
) -> ColleaguesService:
    graph = graph or FakeGraph()
    graph.scripted["megan"] = Presence(id="megan", availability="Busy", activity="InACall")
    watches = watches or FakeWatches()
    return ColleaguesService(graph, watches, watches, **kwargs)  # type: ignore[arg-type]


MENTION = (Mention(channel_id="29:m", name="Megan"),)


async def watch(svc: ColleaguesService, command: AddWatch, zone: str = "Europe/Berlin") -> datetime | None:
    unit = TurnUnit(conversation_id="c")
    views = await svc.watch(ME, command, MENTION, Roster(MEGAN), now=NOW, time_zone=zone, unit=unit)
    return views[0].ends_at


async def test_a_watch_without_an_end_lasts_until_the_end_of_the_working_day_in_the_users_zone() -> None:
    svc = service(workday_end=time(18, 0))
    assert await watch(svc, AddWatch(names=("Megan",))) == datetime(
        2026, 12, 1, 17, 0, tzinfo=UTC
    )  # 18:00 Berlin
    # In Tokyo it is 11 PM: the working day is over, so until tomorrow's end of day, 19 hours away.
    assert await watch(service(), AddWatch(names=("Megan",)), "Asia/Tokyo") == datetime(
        2026, 12, 2, 9, 0, tzinfo=UTC
    )


async def test_a_watch_lasts_at_most_24_hours() -> None:
    later = When(end=NOW + timedelta(hours=25), text="for 25h")
    with pytest.raises(CommandError, match="at most 24 hours"):
        await watch(service(), AddWatch(names=("Megan",), when=later))


async def test_a_mention_the_roster_cannot_resolve_is_named_not_guessed() -> None:
    svc = service()
    with pytest.raises(CommandError, match="couldn't look up Megan"):
        await svc.watch(
            ME, AddWatch(names=("Megan",)), MENTION, Roster(), now=NOW, time_zone="UTC", unit=None
        )
    # A failing roster with the Entra id in the mention itself still works.
    with_id = (Mention(channel_id="29:m", name="Megan", aad_id="megan"),)
    view = await svc.who(ME, Who(names=("Megan",)), with_id, Roster(fails=True), personal=False)
    assert [p.label for p in view.people] == ["In a call"]


async def test_who_alone_in_a_personal_chat_says_to_mention_someone() -> None:
    with pytest.raises(CommandError, match="Mention whom to look up"):
        await service().who(ME, Who(), (), Roster(MEGAN), personal=True)


async def test_who_alone_with_a_failing_roster_says_so() -> None:
    with pytest.raises(CommandError, match="couldn't read who is in this chat"):
        await service().who(ME, Who(), (), Roster(MEGAN, fails=True), personal=False)


async def test_a_graph_permission_problem_speaks_to_the_user_and_names_the_permission_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Refusing(FakeGraph):
        async def get_presences(self, *args: object, **kwargs: object) -> list[Presence]:
            raise GraphPermissionDenied("Forbidden", code="Forbidden")

    with pytest.raises(CommandError, match="ask your Teams admin"):
        await service(Refusing()).who(ME, Who(names=("Megan",)), MENTION, Roster(MEGAN), personal=False)
    assert "Presence.Read.All" in caplog.text


async def test_unwatch_by_a_cards_stop_button_only_stops_the_pressers_own_watch() -> None:
    watches = FakeWatches()
    svc = service(watches=watches)
    await watch(svc, AddWatch(names=("Megan",)))
    someone_else = UserRef(user_id="other", tenant_id=TENANT)
    view = await svc.unwatch(someone_else, Unwatch(watch_id=1), (), None, now=NOW, time_zone="UTC")
    assert view.title == "You weren't watching them."
    assert len(await watches.active_watches(ME, now=NOW)) == 1
    view = await svc.unwatch(ME, Unwatch(watch_id=1), (), None, now=NOW, time_zone="UTC")
    assert view.title == "Stopped watching Megan Bowen." and view.watches == ()


async def test_at_most_twenty_people_are_looked_up_at_once_and_side_by_side() -> None:
    people = [
        Colleague(aad_id=f"id-{i}", name=f"P{i}", tenant_id=TENANT, channel_id=f"29:{i}") for i in range(21)
    ]
    mentions = tuple(Mention(channel_id=p.channel_id or "", name=p.name) for p in people)

    class SlowRoster(Roster):
        in_flight = 0
        most = 0

        async def member(self, channel_id: str) -> Colleague | None:
            SlowRoster.in_flight += 1
            SlowRoster.most = max(SlowRoster.most, SlowRoster.in_flight)
            await asyncio.sleep(0.01)
            SlowRoster.in_flight -= 1
            return await super().member(channel_id)

    with pytest.raises(CommandError, match="at most 20 at once"):
        await service().who(ME, Who(), mentions, SlowRoster(*people), personal=False)
    view = await service().who(ME, Who(), mentions[:20], SlowRoster(*people), personal=False)
    assert len(view.people) == 20
    assert SlowRoster.most == 20, "one roster call each, at the same time"
