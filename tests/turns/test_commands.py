"""The command registry: each command declared once (words, model, reader, handler, help line, menu
place), and what the registry refuses; `/lunch`, added as one declaration on its handler, through the
dispatcher with the fake Graph port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.colleagues.service import ColleaguesService
from bot.commands.model import Command, Help
from bot.commands.parser import Reading
from bot.commands.registry import Declaration, Registry
from bot.core.users import UserRef
from bot.graph.models import Presence
from bot.preferences import PreferencesService
from bot.presence.service import PresenceService
from bot.turns import Dispatcher, Inbound, Turn, TurnKind
from bot.turns.commands import COMMANDS, Context, Handler, Services, parse
from bot.turns.commands.presence import Lunch
from tests.support.e2e import texts
from tests.support.fake_holds import FakeHolds
from tests.support.fakes import FakeGraph, FakeWatches

NOW = datetime(2026, 11, 23, 11, 50, tzinfo=UTC)  # a Monday, 12:50 in Berlin
ALEX = UserRef(user_id="aad-alex", tenant_id="tenant-1", name="Alex")


def turn(text: str, *, personal: bool = True, zone: str = "Europe/Berlin") -> Turn:
    facts = Inbound(
        kind=TurnKind.MESSAGE,
        text=text,
        sender=ALEX,
        tenant_id=ALEX.tenant_id,
        activity_key="msteams|conv-1|1",
        conversation=None,
        teams_zone=zone,
        personal=personal,
        viewer_id="29:alex",
    )
    return Turn(inbound=facts, now=NOW, text=text, time_zone=zone)


def dispatcher(graph: FakeGraph, holds: FakeHolds | None = None) -> Dispatcher:
    presence = PresenceService(
        graph, holds or FakeHolds(), session_id="app", default_duration=timedelta(hours=1)
    )
    watches = FakeWatches()
    services = Services(
        presence, PreferencesService(_NoPreferences()), ColleaguesService(graph, watches, watches)
    )
    return Dispatcher(services, budget_seconds=5)


class _NoPreferences:
    async def set_time_zone(self, user: UserRef, time_zone: str | None) -> object:
        raise AssertionError("no preference is changed here")

    async def set_notices_enabled(self, user: UserRef, enabled: bool) -> object:
        raise AssertionError("no preference is changed here")


def _iso(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest else "")


# -- /lunch ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "minutes", "message"),
    [
        ("/lunch", 60, "Out for lunch"),
        ("lunch", 60, "Out for lunch"),
        ("/lunch 45m", 45, "Out for lunch"),
        ("/lunch for 90 minutes", 90, "Out for lunch"),
        ("/lunch until 1:30pm", 40, "Out for lunch"),  # 12:50 in Berlin
        ("/lunch 1h Team lunch at Luigi's", 60, "Team lunch at Luigi's"),
        ("I'm out for lunch", 60, "Out for lunch"),
        ("going to lunch 30m", 30, "Out for lunch"),
    ],
)
async def test_lunch_appears_away_with_its_message_and_both_end_together(
    text: str, minutes: int, message: str
) -> None:
    graph = FakeGraph(Presence(availability="Away", activity="Away"))
    reply = await dispatcher(graph)(turn(text))
    end = NOW + timedelta(minutes=minutes)
    assert [w.op for _, w in graph.writes] == ["set_preferred_presence", "set_status_message"]
    away, status = graph.bodies()
    assert away == {"availability": "Away", "activity": "Away", "expirationDuration": _iso(minutes)}
    assert status["statusMessage"] == {
        "message": {"content": message, "contentType": "text"},
        "expiryDateTime": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
    }
    shown = texts(reply.card)
    assert "Set to Appear away for lunch, with your status message: both end together." in shown


async def test_lunch_refuses_what_a_state_refuses_and_changes_nothing() -> None:
    graph = FakeGraph()
    reply = await dispatcher(graph)(turn("/lunch 30"))
    assert graph.writes == []
    assert "needs a unit" in reply.text and "Try: /lunch 30m" in reply.text


async def test_lunch_replaces_the_state_the_bot_holds() -> None:
    graph = FakeGraph(Presence(availability="Busy", activity="InACall"))
    route = dispatcher(graph, FakeHolds())
    await route(turn("/busy 2h"))
    await route(turn("/lunch"))
    assert [w.op for _, w in graph.writes] == [
        "set_presence",
        "clear_presence",  # the held In a call goes, so it does not resurface over lunch
        "set_preferred_presence",
        "set_status_message",
    ]


def test_lunch_is_in_help_the_welcome_card_and_teams_menu() -> None:
    assert "lunch" in [doc.name for doc in COMMANDS.docs()]
    assert "lunch" in [doc.name for doc in COMMANDS.docs(colleagues=False)]
    assert "lunch" in [doc.name for doc in COMMANDS.menu()]
    assert parse("/lunch", now=NOW, tz="UTC") == Lunch()


# -- the registry ------------------------------------------------------------------------------------
async def _handler(context: Context, command: Any) -> dict[str, Any]:
    return {}


async def _other(context: Context, command: Any) -> dict[str, Any]:
    return {}


def _read(reading: Reading) -> Command:
    return Help()


def _help(**changes: Any) -> Declaration[Handler]:
    values: dict[str, Any] = {"name": "help", "model": Help, "handler": _handler, "read": _read}
    values.update(changes)
    return Declaration(**values)


class _Coffee(Command):
    pass


@pytest.mark.parametrize(
    ("declarations", "why"),
    [
        ([_help(words={"en": ("help",)}), _help(name="also help", words={"en": ("help",)})], "two commands"),
        ([_help(), _help(name="help", handler=_other)], "declared twice"),
        ([_help(), _help(name="again", handler=_other)], "two handlers"),
        ([_help(words={"en": ("help",)}, read=None)], "no reader"),
        ([Declaration(name="coffee", model=_Coffee, handler=_handler)], "handles Help"),
        (
            [_help(), *(_help(name=f"c{n}", model=_Coffee, usage="/c", menu=n) for n in range(11))],
            "shows 10 commands",
        ),
        ([_help(), _help(name="coffee", model=_Coffee, menu=1)], "help line"),
    ],
)
def test_the_registry_refuses_a_declaration_that_would_surprise_a_user(
    declarations: list[Declaration[Handler]], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        Registry(declarations)


def test_a_word_belongs_to_one_command() -> None:
    owners: dict[str, str] = {}
    for declaration in COMMANDS.declarations:
        for words in declaration.words.values():
            for word in words:
                assert owners.setdefault(word.lower(), declaration.name) == declaration.name, word
