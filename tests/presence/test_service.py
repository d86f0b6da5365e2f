"""The presence service against a fake Graph port: which call, which body, what the card is told."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.commands.model import Command, CommandError, When
from bot.commands.presence import ClearSession, Extend, Reset, SetState, ShowPresence
from bot.commands.status import ClearStatusMessage, SetStatusMessage
from bot.core.states import STATES, Layer, State
from bot.core.users import UserRef
from bot.core.views import PresenceView
from bot.graph.models import Presence
from bot.presence.ports import HeldState
from bot.presence.service import PreferredPlan, PresenceService, SessionPlan, explain
from tests.support.fake_holds import FakeHolds
from tests.support.fakes import FakeGraph

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
APP = "app-id"
ALEX = UserRef(user_id="alex", tenant_id="t1", name="Alex")


def service(graph: FakeGraph, holds: FakeHolds | None = None) -> PresenceService:
    return PresenceService(graph, holds or FakeHolds(), session_id=APP, default_duration=timedelta(hours=1))


def for_(minutes: float) -> When:
    return When(end=NOW + timedelta(minutes=minutes), duration=timedelta(minutes=minutes), text=f"{minutes}m")


async def run(
    graph: FakeGraph, method: str, command: Command, zone: str = "UTC", holds: FakeHolds | None = None
) -> PresenceView:
    """`command` through the service method named (each test names the one it tests)."""
    run_method: Callable[..., Awaitable[PresenceView]] = getattr(service(graph, holds), method)
    return await run_method(ALEX, command, now=NOW, time_zone=zone, unit=None)


async def test_busy_sets_the_bots_session_with_its_app_id() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    view = await run(graph, "set_state", SetState(state=State.BUSY, when=for_(30)))
    assert [w.op for _, w in graph.writes] == ["set_presence"]
    assert graph.bodies() == [
        {"sessionId": APP, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT30M"}
    ]
    assert view.presence.label == "In a call"
    assert view.outcome is not None and view.outcome.requested_end == NOW + timedelta(minutes=30)
    assert view.outcome.lapses_at is None
    assert view.explanation is None


async def test_default_duration_is_one_hour() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    await run(graph, "set_state", SetState(state=State.BUSY))
    assert graph.bodies()[0]["expirationDuration"] == "PT1H"


async def test_below_five_minutes_is_raised_and_the_card_says_so() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    view = await run(graph, "set_state", SetState(state=State.BUSY, when=for_(2)))
    assert graph.bodies()[0]["expirationDuration"] == "PT5M"
    assert view.outcome is not None
    assert any("5 minutes" in note and "2 minutes" in note for note in view.outcome.notes)


async def test_over_four_hours_is_capped_and_held_to_the_end_asked() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    holds = FakeHolds()
    view = await run(graph, "set_state", SetState(state=State.BUSY, when=for_(6 * 60)), holds=holds)
    assert graph.bodies()[0]["expirationDuration"] == "PT4H"
    assert view.outcome is not None
    assert view.outcome.requested_end == NOW + timedelta(hours=6)
    assert view.outcome.lapses_at is None, "the bot renews it: it does not lapse at 4 hours"
    assert any("4 hours" in note and "renews" in note for note in view.outcome.notes)
    assert holds.held[ALEX.key] == HeldState(State.BUSY, Layer.SESSION, NOW + timedelta(hours=6))
    assert holds.units == 1


async def test_available_warns_about_the_fade() -> None:
    graph = FakeGraph()
    view = await run(graph, "set_state", SetState(state=State.AVAILABLE, when=for_(60)), zone="Europe/Berlin")
    assert view.outcome is not None
    assert view.outcome.lapses_at is None, "the bot refreshes Available before it fades"
    assert any("fades" in note and "refreshes" in note for note in view.outcome.notes)


async def test_dnd_is_a_preferred_presence_with_graphs_default() -> None:
    graph = FakeGraph(Presence(availability="DoNotDisturb", activity="DoNotDisturb"))
    view = await run(graph, "set_state", SetState(state=State.DND))
    assert [w.op for _, w in graph.writes] == ["set_preferred_presence"]
    assert graph.bodies() == [{"availability": "DoNotDisturb", "activity": "DoNotDisturb"}]
    assert view.outcome is not None and view.outcome.layer is Layer.PREFERRED
    assert view.outcome.requested_end == NOW + timedelta(days=1)


async def test_offline_with_duration() -> None:
    graph = FakeGraph(Presence(availability="Offline", activity="OffWork"))
    await run(graph, "set_state", SetState(state=State.OFFLINE, when=for_(120)))
    assert graph.bodies() == [
        {"availability": "Offline", "activity": "OffWork", "expirationDuration": "PT2H"}
    ]


async def test_clear_tolerates_no_session() -> None:
    graph = FakeGraph()
    view = await run(graph, "clear_session", ClearSession())
    assert [w.op for _, w in graph.writes] == ["clear_presence"]
    assert view.outcome is not None and "nothing to clear" in view.outcome.summary


async def test_reset_clears_session_and_preference() -> None:
    graph = FakeGraph()
    holds = FakeHolds()
    await run(graph, "set_state", SetState(state=State.BUSY, when=for_(30)), holds=holds)
    await run(graph, "reset", Reset(), holds=holds)
    assert [w.op for _, w in graph.writes][1:] == ["clear_presence", "clear_preferred_presence"]
    assert holds.held == {} and holds.cancelled == ["reset with /reset"]


async def test_a_newer_state_on_the_other_layer_clears_the_bots_earlier_one() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    holds = FakeHolds()
    await run(graph, "set_state", SetState(state=State.DND, when=for_(30)), holds=holds)
    await run(graph, "set_state", SetState(state=State.BUSY, when=for_(30)), holds=holds)
    assert [w.op for _, w in graph.writes] == [
        "set_preferred_presence",
        "clear_preferred_presence",
        "set_presence",
    ]
    assert holds.held[ALEX.key].state is State.BUSY


async def test_show_names_the_state_the_bot_holds() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    holds = FakeHolds()
    await run(graph, "set_state", SetState(state=State.BUSY, when=for_(90)), holds=holds)
    view = await run(graph, "show", ShowPresence(), holds=holds)
    assert view.outcome is not None and view.outcome.summary == "The bot is keeping you In a call."
    assert view.outcome.requested_end == NOW + timedelta(minutes=90)


async def test_extend_reads_the_held_state_under_the_users_lock() -> None:
    """`/extend 30m` sent while a `/dnd 1h` is still under way extends Do not disturb, the state that
    command leaves: it reads the hold after the `/dnd` is done, never the Busy before it."""
    graph = FakeGraph()
    holds = FakeHolds()
    svc = service(graph, holds)
    await svc.set_state(ALEX, SetState(state=State.BUSY, when=for_(30)), now=NOW, time_zone="UTC", unit=None)
    sending, answer = asyncio.Event(), asyncio.Event()
    apply = graph.apply

    async def slow_graph(*args: Any, **kwargs: Any) -> Any:
        sending.set()
        await answer.wait()
        return await apply(*args, **kwargs)

    graph.apply = slow_graph  # type: ignore[method-assign]
    dnd = asyncio.create_task(
        svc.set_state(ALEX, SetState(state=State.DND, when=for_(60)), now=NOW, time_zone="UTC", unit=None)
    )
    await sending.wait()  # /dnd holds Alex's lock, waiting for Graph
    extend = asyncio.create_task(
        svc.extend(ALEX, Extend(by=timedelta(minutes=30)), now=NOW, time_zone="UTC", unit=None)
    )
    for _ in range(10):  # /extend runs as far as it can meanwhile
        await asyncio.sleep(0)
    assert not extend.done()
    answer.set()
    await dnd
    view = await extend
    assert holds.held[ALEX.key] == HeldState(State.DND, Layer.PREFERRED, NOW + timedelta(minutes=90))
    assert view.outcome is not None and view.outcome.summary == "Extended by 30 minutes: Do not disturb."


async def test_extend_with_nothing_held_is_refused_in_words() -> None:
    with pytest.raises(CommandError, match="nothing to extend"):
        await service(FakeGraph()).extend(
            ALEX, Extend(by=timedelta(minutes=30)), now=NOW, time_zone="UTC", unit=None
        )


async def test_status_message_body_has_utc_expiry() -> None:
    graph = FakeGraph()
    await run(graph, "set_status_message", SetStatusMessage(text="Out for lunch", when=for_(60)))
    assert graph.bodies() == [
        {
            "statusMessage": {
                "message": {"content": "Out for lunch", "contentType": "text"},
                "expiryDateTime": {"dateTime": "2026-11-22T15:00:00", "timeZone": "UTC"},
            }
        }
    ]


async def test_status_clear_posts_empty_content() -> None:
    graph = FakeGraph()
    await run(graph, "clear_status_message", ClearStatusMessage())
    assert graph.bodies() == [{"statusMessage": {"message": {"content": "", "contentType": "text"}}}]


async def test_show_only_reads() -> None:
    graph = FakeGraph()
    await run(graph, "show", ShowPresence())
    assert graph.writes == [] and graph.reads == 1


def test_plans_refuse_what_graph_would_refuse() -> None:
    with pytest.raises(ValidationError):
        SessionPlan(availability="Busy", activity="Busy", duration=timedelta(minutes=30))
    with pytest.raises(ValidationError):
        SessionPlan(availability="Busy", activity="InACall", duration=timedelta(hours=5))
    with pytest.raises(ValidationError):
        PreferredPlan(availability="Busy", activity="InACall", duration=None)


@pytest.mark.parametrize(
    ("asked", "shown", "needle"),
    [
        (State.BUSY, ("Offline", "OffWork"), "appear offline"),
        (State.BUSY, ("DoNotDisturb", "DoNotDisturb"), "/reset"),
        (State.AVAILABLE, ("Busy", "InACall"), "outranks"),
        (State.DND, ("Offline", "Offline"), "signed in"),
        (State.BUSY, ("Busy", "InACall"), None),
    ],
)
def test_explanations(asked: State, shown: tuple[str, str], needle: str | None) -> None:
    text = explain(STATES[asked], Presence(availability=shown[0], activity=shown[1]))
    if needle is None:
        assert text is None
    else:
        assert text is not None and needle in text


async def test_fake_graph_refuses_clear_without_tolerance() -> None:
    from bot.graph.client import clear_presence_write
    from bot.graph.errors import GraphNotFound

    graph = FakeGraph()
    with pytest.raises(GraphNotFound):  # the type GraphClient raises (tests/graph/test_port_contract.py)
        await graph.apply("u", [clear_presence_write(APP, tolerate_missing=False)])
