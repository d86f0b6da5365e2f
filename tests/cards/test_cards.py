"""The Adaptive Cards: valid Adaptive Card 1.5, Teams-safe, and saying what a user needs to read."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

import cards
from bot.commands.model import CommandError
from bot.core.catalog import WHEN_HELP
from bot.core.states import Icon, Layer, Tone
from bot.core.views import (
    ErrorView,
    HelpView,
    MissView,
    Outcome,
    PresenceSnapshot,
    PresenceView,
    WelcomeView,
)
from bot.graph.errors import (
    GraphBadRequest,
    GraphConnectionError,
    GraphError,
    GraphNotFound,
    GraphPermissionDenied,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
)
from bot.presence.errors import command_error_view, graph_error_view, internal_error_view, tenant_refused_view
from bot.turns.commands import COMMANDS
from cards import UserTimes
from cards.icons import data_uri, png
from cards.messages import teams_safe
from tests.render.gallery import colleague_cards
from tests.support.cardschema import assert_valid_card, card_errors
from tests.support.playground import headline

# Friday 20 Nov 2026, 13:00 UTC: 2:00 PM in Berlin (UTC+1), 10:00 PM in Tokyo (UTC+9).
NOW = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
TOKYO = "Asia/Tokyo"
FIVE_THIRTY_PM_BERLIN = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)


# What Teams renders in cards from 1.5; anything else risks "This card can't be displayed".
def why_text(card: dict[str, Any]) -> str:
    """What the card folds behind its "Why?" toggle (hidden until pressed)."""
    hidden = [node for node in walk(card["body"]) if node.get("id") == "why"]
    assert len(hidden) == 1 and hidden[0]["isVisible"] is False
    toggles = [a for a in walk(card["body"]) if a.get("type") == "Action.ToggleVisibility"]
    assert [t["targetElements"] for t in toggles] == [["why"]] and toggles[0]["title"] == "Why?"
    return "\n".join(item["text"] for item in hidden[0]["items"])


TEAMS_SAFE = {
    "Action.ToggleVisibility",
    "Input.ChoiceSet",  # the picker card's inputs: Teams renders Adaptive Card 1.5 inputs
    "Input.Text",
    "AdaptiveCard",
    "TextBlock",
    "FactSet",
    "ColumnSet",
    "Column",
    "Container",
    "ActionSet",
    "Image",
    "Action.Execute",
    "Action.Submit",
    "Action.OpenUrl",  # "Chat with Megan": Teams' deep link to a 1:1 chat
}
# The buttons on busy_view's card: In a call, held by the bot on its session, with a status message.
QUICK = {
    "Do not disturb 1h": "/dnd 1h",
    "Available": "/available",
    "Extend 30 min": "/extend 30m",
    "End now": "/clear",
    "Clear status message": "/status clear",
    "Refresh": "/presence",
}


# -- views a user would really get -----------------------------------------------------------------


def busy_view(zone: str = BERLIN) -> PresenceView:
    """/busy until 17:30 with a lunch status message."""
    return PresenceView(
        user_name="Ada Lovelace",
        presence=PresenceSnapshot(
            availability="Busy",
            activity="InACall",
            label="In a call",
            tone=Tone.ATTENTION,
            status_message="Out for lunch",
            status_expires=NOW + timedelta(hours=1),
        ),
        outcome=Outcome(
            summary="Set to In a call.",
            label="In a call",
            layer=Layer.SESSION,
            requested_end=FIVE_THIRTY_PM_BERLIN,
        ),
        time_zone=zone,
        now=NOW,
    )


FADE_NOTE = (
    "Teams fades an app's Available unless it is refreshed: expect Available (inactive) at 2:05 PM "
    "and Away at 2:10 PM."
)


def available_view() -> PresenceView:
    """/available 1h: Teams fades it after 5 minutes, long before the hour is up."""
    return PresenceView(
        user_name="Ada Lovelace",
        presence=PresenceSnapshot(
            availability="Available", activity="Available", label="Available", tone=Tone.GOOD
        ),
        outcome=Outcome(
            summary="Set to Available.",
            label="Available",
            layer=Layer.SESSION,
            requested_end=NOW + timedelta(hours=1),
            lapses_at=NOW + timedelta(minutes=5),
            notes=(FADE_NOTE,),
        ),
        time_zone=BERLIN,
        now=NOW,
    )


DND_EXPLANATION = (
    "A picked status only shows while you're signed in to Teams somewhere; with no active Teams session "
    "you show as Offline."
)


def dnd_view() -> PresenceView:
    """/dnd until tomorrow 9am while signed out of Teams: Graph reports Offline."""
    return PresenceView(
        user_name="Ada Lovelace",
        presence=PresenceSnapshot(
            availability="Offline", activity="Offline", label="Offline", tone=Tone.NEUTRAL
        ),
        outcome=Outcome(
            summary="Set to Do not disturb.",
            label="Do not disturb",
            layer=Layer.PREFERRED,
            requested_end=datetime(2026, 11, 21, 8, 0, tzinfo=UTC),  # tomorrow 9:00 AM Berlin
            notes=("A picked status shows over anything apps set, while you're signed in to Teams.",),
        ),
        explanation=DND_EXPLANATION,
        time_zone=BERLIN,
        now=NOW,
    )


def shown_view(availability: str, activity: str, label: str, tone: Tone) -> PresenceView:
    """/presence: just what Graph reports, no outcome."""
    return PresenceView(
        presence=PresenceSnapshot(availability=availability, activity=activity, label=label, tone=tone),
        time_zone=BERLIN,
        now=NOW,
    )


def offline_view() -> PresenceView:
    return shown_view("Offline", "OffWork", "Appear offline", Tone.NEUTRAL)


ERROR_VIEWS: dict[str, ErrorView] = {
    "command": command_error_view(CommandError("I can't read “30 lightyears” as a time.", "/busy 30m")),
    "tenant": tenant_refused_view(),
    "internal": internal_error_view(),
    **{
        cls.__name__: graph_error_view(
            cls("Traceback: secret-token-abc at graph.py line 12", code="Forbidden", request_id="req-1")
        )
        for cls in (
            GraphPermissionDenied,
            GraphUnauthorized,
            GraphThrottled,
            GraphTimeout,
            GraphUnavailable,
            GraphConnectionError,
            GraphNotFound,
            GraphBadRequest,
            GraphError,
        )
    },
}


def every_card() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "busy", cards.presence_card(busy_view(), refresh_user_ids=["29:ada"])
    yield "busy-tokyo", cards.presence_card(busy_view(TOKYO))
    yield "available", cards.presence_card(available_view())
    yield "dnd", cards.presence_card(dnd_view())
    yield "offline", cards.presence_card(offline_view())
    yield (
        "unknown",
        cards.presence_card(shown_view("PresenceUnknown", "PresenceUnknown", "Status unknown", Tone.NEUTRAL)),
    )
    yield "novel", cards.presence_card(shown_view("Focusing", "DeepWork", "Focusing", Tone.NEUTRAL))
    for kind, view in ERROR_VIEWS.items():
        yield f"error-{kind}", cards.error_card(view)
    yield "help", cards.help_card(HelpView(commands=COMMANDS.docs()))
    yield (
        "help-unknown",
        cards.help_card(HelpView(intro="I didn't understand “coffee”.", commands=COMMANDS.docs())),
    )
    yield "miss", cards.miss_card(MissView(unknown="coffee", commands=COMMANDS.shortlist()))
    yield (
        "did-you-mean",
        cards.miss_card(MissView(unknown="bsy", suggestion="/busy 30m", commands=COMMANDS.shortlist())),
    )
    yield "picker", cards.picker_card()
    yield (
        "welcome",
        cards.welcome_card(
            WelcomeView(user_name="Ada Lovelace", commands=COMMANDS.docs(), tries=COMMANDS.welcome())
        ),
    )
    yield (
        "welcome-anonymous",
        cards.welcome_card(WelcomeView(commands=COMMANDS.docs(), tries=COMMANDS.welcome())),
    )
    yield "notice", cards.notice_card("Your hold ended", "In a call ended at 5:30 PM.", busy_view())
    yield "notice-bare", cards.notice_card("Couldn't set your presence", "Microsoft Graph was unavailable.")


ALL_CARDS = dict(every_card()) | colleague_cards()


# -- helpers ------------------------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the card, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def texts(card: dict[str, Any]) -> list[str]:
    return [block["text"] for block in walk(card.get("body", [])) if block.get("type") == "TextBlock"]


def block(card: dict[str, Any], containing: str) -> dict[str, Any]:
    """The one TextBlock whose text contains `containing`."""
    found = [b for b in walk(card["body"]) if b.get("type") == "TextBlock" and containing in b["text"]]
    assert len(found) == 1, f"{len(found)} text blocks contain {containing!r}: {texts(card)}"
    return found[0]


def all_text(card: dict[str, Any]) -> str:
    return "\n".join(texts(card))


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["title"]: action for action in card.get("actions", [])}


# -- every card: valid, Teams-safe, deterministic, with fallback text -----------------------------


@pytest.mark.parametrize("name", ALL_CARDS)
def test_every_card_validates_against_the_adaptive_card_1_5_schema(name: str) -> None:
    card = ALL_CARDS[name]
    assert_valid_card(card)
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"


@pytest.mark.parametrize("name", ALL_CARDS)
def test_every_card_uses_only_what_teams_renders(name: str) -> None:
    types = {node["type"] for node in walk(ALL_CARDS[name]) if isinstance(node.get("type"), str)}
    assert types <= TEAMS_SAFE, types - TEAMS_SAFE


@pytest.mark.parametrize("name", ALL_CARDS)
def test_every_card_has_a_short_fallback_text_that_text_fallback_returns(name: str) -> None:
    card = ALL_CARDS[name]
    fallback = cards.text_fallback(card)
    assert fallback == card["fallbackText"]
    assert fallback.strip()
    assert 1 <= len(fallback.splitlines()) <= 2


def test_cards_are_deterministic_json() -> None:
    again = dict(every_card()) | colleague_cards()
    assert json.dumps(again, sort_keys=True) == json.dumps(ALL_CARDS, sort_keys=True)


def test_the_schema_helper_rejects_what_teams_would_not_show() -> None:
    good = cards.presence_card(busy_view())
    bad_color = json.loads(json.dumps(good))
    bad_color["body"][0]["color"] = "red"
    assert card_errors(bad_color) == ["body/0/color: 'red' is not valid under any of the given schemas"]
    assert card_errors({**good, "msteams": {"width": "Full"}})  # the 1.5 schema allows no extra keys


# -- the presence card -----------------------------------------------------------------------------


def test_presence_card_shows_the_teams_label_beside_teams_icon_in_dark_text() -> None:
    card = cards.presence_card(busy_view())
    assert headline(card) == ("In a call", "Red dot")
    assert headline(cards.presence_card(available_view())) == ("Available", "Green check")
    away = cards.presence_card(shown_view("Away", "Away", "Away", Tone.WARNING))
    assert headline(away) == ("Away", "Amber clock")
    assert headline(cards.presence_card(offline_view())) == ("Appear offline", "Grey cross")
    dnd = cards.presence_card(shown_view("DoNotDisturb", "Presenting", "Presenting", Tone.ATTENTION))
    assert headline(dnd) == ("Presenting", "Red circle with a minus")
    ooo = cards.presence_card(shown_view("Away", "OutOfOffice", "Out of office", Tone.ATTENTION))
    assert headline(ooo) == ("Out of office", "Purple arrow")
    # The label is dark text whatever the state (Teams' yellow text is hard to read on white).
    labels = [block(c, label) for c, label in ((card, "In a call"), (away, "Away"))]
    assert all("color" not in label and label["weight"] == "bolder" for label in labels)


def test_presence_icons_are_small_distinct_pngs_inside_the_card() -> None:
    uris = {which: data_uri(which) for which in Icon}
    assert len(set(uris.values())) == len(Icon), "every state has its own icon"
    for uri in uris.values():
        assert uri.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert image.size == (40, 40) and image.mode == "RGBA"
        assert len(uri) < 4_000, "small enough to send in every card"
    green = Image.open(io.BytesIO(png(Icon.AVAILABLE))).convert("RGB").getpixel((10, 20))
    assert isinstance(green, tuple) and green[1] > 150 > green[0], f"Available is green: {green}"


def test_presence_card_shows_status_message_and_times_in_the_users_zone() -> None:
    card = cards.presence_card(busy_view(BERLIN))
    assert block(card, "Out for lunch")["text"] == "“Out for lunch”"
    assert block(card, "Status message until")["text"] == "Status message until 3:00 PM"
    # The heading names the state once; one sentence says it was set and until when.
    assert block(card, "Set until")["text"] == "Set until 5:30 PM."
    assert "presence session" in why_text(card), "how it was set: behind Why?"
    assert block(card, "Times in")["text"] == "Times in Europe/Berlin"
    assert [t for t in texts(card) if "In a call" in t] == ["In a call"]


def test_the_same_instant_reads_differently_in_tokyo() -> None:
    card = cards.presence_card(busy_view(TOKYO))
    assert block(card, "Set until ")["text"].startswith("Set until tomorrow 1:30 AM")
    assert block(card, "Status message until")["text"] == "Status message until 11:00 PM"
    assert block(card, "Times in")["text"] == "Times in Asia/Tokyo"
    assert "5:30 PM" not in all_text(card)


def test_an_unknown_zone_name_is_shown_as_utc_not_as_given() -> None:
    card = cards.presence_card(busy_view("Mars/Olympus_Mons"))
    assert block(card, "Set until ")["text"].startswith("Set until 4:30 PM")
    assert block(card, "Times in")["text"] == "Times in UTC"


def test_available_says_plainly_that_graph_lets_it_lapse_before_the_time_asked() -> None:
    card = cards.presence_card(available_view())
    assert block(card, "Set until ")["text"] == "Set until 3:00 PM."
    lapse = block(card, "lapse")
    assert lapse["text"] == "Graph will let this lapse at 2:05 PM unless the bot refreshes it."
    boxes = [node for node in walk(card["body"]) if node.get("style") == "warning"]
    assert [texts({"body": boxes})] == [[lapse["text"]]], "the lapse stands out in a warning box"
    assert block(card, "fades")["text"] == f"• {FADE_NOTE}"
    assert card["fallbackText"].splitlines()[1] == lapse["text"]


def test_no_lapse_sentence_when_graph_keeps_it_until_the_time_asked() -> None:
    assert "lapse" not in all_text(cards.presence_card(busy_view()))


def test_dnd_explains_why_teams_shows_something_else_as_a_warning() -> None:
    card = cards.presence_card(dnd_view())
    assert headline(card)[0] == "Offline"
    warnings = [node for node in walk(card["body"]) if node.get("style") == "warning"]
    assert len(warnings) == 1
    assert texts({"body": warnings}) == [DND_EXPLANATION]
    assert block(card, "Until ")["text"] == "Until tomorrow 9:00 AM."
    assert block(card, "A picked status shows over")["text"].startswith("• ")
    assert card["fallbackText"] == (
        "Set to Do not disturb until tomorrow 9:00 AM (Europe/Berlin); Teams shows you as Offline.\n"
        + DND_EXPLANATION
    )


@pytest.mark.parametrize(
    ("availability", "activity", "label"),
    [("PresenceUnknown", "PresenceUnknown", "Status unknown"), ("Focusing", "DeepWork", "Focusing")],
)
def test_unknown_availability_values_still_render_their_label(
    availability: str, activity: str, label: str
) -> None:
    card = cards.presence_card(shown_view(availability, activity, label, Tone.NEUTRAL))
    assert_valid_card(card)
    assert headline(card)[0] == label
    assert block(card, "time zone")["text"] == "Your time zone: Europe/Berlin"  # no times to show
    assert card["fallbackText"] == f"Teams shows you as {label}."


def test_presence_card_offers_the_quick_actions_as_universal_actions_with_submit_fallback() -> None:
    actions = cards.presence_card(busy_view())["actions"]
    assert [action["title"] for action in actions] == list(QUICK)
    for action in actions:
        command = QUICK[action["title"]]
        assert action["type"] == "Action.Execute"
        assert action["verb"] == "command"
        assert action["data"] == {"command": command}
        assert action["fallback"] == {
            "type": "Action.Submit",
            "title": action["title"],
            "data": {"command": command},
        }


def test_refresh_is_present_only_when_user_ids_are_given() -> None:
    assert "refresh" not in cards.presence_card(busy_view())
    assert "refresh" not in cards.presence_card(busy_view(), refresh_user_ids=[])
    card = cards.presence_card(busy_view(), refresh_user_ids=["29:ada"])
    assert card["refresh"] == {
        "action": {"type": "Action.Execute", "verb": "command", "data": {"command": "/presence"}},
        "userIds": ["29:ada"],
    }


def test_refresh_user_ids_are_deduplicated_and_capped_at_sixty() -> None:
    ids = [f"29:user-{n}" for n in range(80)]
    card = cards.presence_card(busy_view(), refresh_user_ids=["29:user-0", *ids])
    assert card["refresh"]["userIds"] == ids[:60]
    assert_valid_card(card)


def test_presence_fallback_text_says_what_teams_shows_until_when() -> None:
    assert cards.text_fallback(busy_view()) == (
        "Teams shows you as In a call until 5:30 PM (Europe/Berlin). Status: Out for lunch, until 3:00 PM."
    )
    assert cards.text_fallback(busy_view(TOKYO)).startswith(
        "Teams shows you as In a call until tomorrow 1:30 AM (Asia/Tokyo)."
    )
    assert cards.text_fallback(offline_view()) == "Teams shows you as Appear offline."


def test_a_status_message_without_expiry_or_with_graphs_never_date_shows_no_time() -> None:
    never = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)  # how Graph says "no expiry"; Tokyo would overflow
    view = busy_view(TOKYO).model_copy(
        update={
            "outcome": Outcome(summary="Status message set."),
            "presence": busy_view().presence.model_copy(update={"status_expires": never}),
        }
    )
    card = cards.presence_card(view)
    assert_valid_card(card)
    assert "9999" not in json.dumps(card)
    assert "Status message until" not in all_text(card)
    assert card["fallbackText"] == "Status message set. Teams shows you as In a call. Status: Out for lunch."


# -- times ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "until", "at"),
    [
        (datetime(2026, 11, 20, 16, 30, tzinfo=UTC), "until 5:30 PM", "at 5:30 PM"),
        (datetime(2026, 11, 20, 11, 0, tzinfo=UTC), "until 12:00 PM", "at 12:00 PM"),
        (datetime(2026, 11, 20, 22, 59, tzinfo=UTC), "until 11:59 PM", "at 11:59 PM"),
        (datetime(2026, 11, 20, 23, 0, tzinfo=UTC), "until the end of today", "tomorrow at 12:00 AM"),
        (datetime(2026, 11, 21, 23, 0, tzinfo=UTC), "until the end of tomorrow", "on Sun 22 Nov at 12:00 AM"),
        (datetime(2026, 11, 22, 23, 0, tzinfo=UTC), "until Mon 23 Nov", "on Mon 23 Nov at 12:00 AM"),
        (datetime(2027, 1, 3, 23, 0, tzinfo=UTC), "until Mon 4 Jan 2027", "on Mon 4 Jan 2027 at 12:00 AM"),
        (datetime(2026, 11, 21, 8, 0, tzinfo=UTC), "until tomorrow 9:00 AM", "tomorrow at 9:00 AM"),
        (datetime(2026, 11, 19, 8, 0, tzinfo=UTC), "until yesterday 9:00 AM", "yesterday at 9:00 AM"),
        (datetime(2026, 11, 27, 8, 0, tzinfo=UTC), "until Fri 27 Nov 9:00 AM", "on Fri 27 Nov at 9:00 AM"),
        (
            datetime(2027, 1, 4, 8, 0, tzinfo=UTC),
            "until Mon 4 Jan 2027 9:00 AM",
            "on Mon 4 Jan 2027 at 9:00 AM",
        ),
    ],
)
def test_times_read_naturally_relative_to_now_in_the_users_zone(
    instant: datetime, until: str, at: str
) -> None:
    times = UserTimes(NOW, BERLIN)
    assert times.until(instant) == until
    assert times.at(instant) == at


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ERROR_VIEWS)
def test_error_card_shows_title_in_attention_colour_message_and_hint(kind: str) -> None:
    view = ERROR_VIEWS[kind]
    card = cards.error_card(view)
    title = block(card, view.title)
    assert title["color"] == "attention"
    assert title["weight"] == "bolder"
    assert view.message in texts(card)
    if view.hint:
        assert view.hint in texts(card)
    assert "secret-token-abc" not in json.dumps(card)  # never the exception's own text
    assert card["fallbackText"].startswith(view.title)


def test_error_card_shows_the_example_as_a_command_to_copy() -> None:
    card = cards.error_card(ERROR_VIEWS["command"])
    example = block(card, "/busy 30m")
    assert example["text"] == "/busy 30m"
    assert example["fontType"] == "monospace"
    assert card["fallbackText"] == (
        "I couldn't do that. I can't read “30 lightyears” as a time.\n"
        "Nothing was changed. Send /help for every command. Try: /busy 30m"
    )


def test_error_card_without_hint_or_example_is_just_title_and_message() -> None:
    card = cards.error_card(ErrorView(title="Oops!", message="That went wrong."))
    assert texts(card) == ["Oops!", "That went wrong."]
    assert card["fallbackText"] == "Oops! That went wrong."
    assert_valid_card(card)


# -- help and welcome ------------------------------------------------------------------------------


def test_help_lists_every_catalog_command_with_usage_description_and_examples() -> None:
    card = cards.help_card(HelpView(commands=COMMANDS.docs()))
    usages = [b["text"] for b in walk(card["body"]) if b.get("fontType") == "monospace" and b.get("weight")]
    assert usages == [teams_safe(doc.usage) for doc in COMMANDS.docs()]
    assert "/status ‹text›" in usages[[doc.name for doc in COMMANDS.docs()].index("status")]
    assert "<" not in json.dumps(card["body"]), "Teams would read <text> as an HTML tag and drop it"
    shown = texts(card)
    for doc in COMMANDS.docs():
        assert doc.description in shown
        assert " · ".join(doc.examples) in shown
    assert shown[-1] == WHEN_HELP
    assert "didn't understand" not in all_text(card)


def test_help_with_an_unknown_command_says_so_first() -> None:
    card = cards.help_card(HelpView(intro="I didn't understand “coffee”.", commands=COMMANDS.docs()))
    assert texts(card)[0] == "I didn't understand “coffee”."
    assert card["fallbackText"].splitlines()[0] == "I didn't understand “coffee”."
    assert "/status" in card["fallbackText"].splitlines()[1]


def test_welcome_greets_by_name_explains_and_offers_three_commands_to_press_and_three_buttons() -> None:
    card = cards.welcome_card(
        WelcomeView(user_name="Ada Lovelace", commands=COMMANDS.docs(), tries=COMMANDS.welcome())
    )
    assert texts(card)[0] == "Hi Ada Lovelace, I'm Presence Bot"
    assert "Microsoft Graph" in texts(card)[1]
    tries = [a for node in walk(card["body"]) if node.get("type") == "ActionSet" for a in node["actions"]]
    examples = ["/busy 30m", "/dnd 1h", "/lunch"]
    assert [(a["title"], a["data"]["command"]) for a in tries] == [(e, e) for e in examples]
    assert all(a["type"] == "Action.Execute" and a["fallback"]["type"] == "Action.Submit" for a in tries)
    assert {title: action["data"]["command"] for title, action in buttons(card).items()} == {
        "Set status": "/set",
        "Show my presence": "/presence",
        "Help": "/help",
    }
    for action in card["actions"]:
        assert (action["type"], action["verb"]) == ("Action.Execute", "command")
        assert action["fallback"]["type"] == "Action.Submit"
        assert action["fallback"]["data"] == action["data"]
    assert card["fallbackText"] == (
        "Hi Ada Lovelace, I'm Presence Bot: I set your Teams presence and status message.\n"
        "Try /busy 30m, /dnd 1h or /lunch; /help lists every command."
    )


def test_welcome_without_a_name_still_greets() -> None:
    card = cards.welcome_card(WelcomeView(commands=COMMANDS.docs(), tries=COMMANDS.welcome()))
    assert texts(card)[0] == "Hi, I'm Presence Bot"


# -- notices ---------------------------------------------------------------------------------------


def test_notice_with_presence_shows_message_current_state_and_quick_actions() -> None:
    card = cards.notice_card("Your hold ended", "In a call ended at 5:30 PM.", busy_view())
    assert texts(card)[:2] == ["Your hold ended", "In a call ended at 5:30 PM."]
    assert headline(card) == ("In a call", "Red dot")
    assert list(buttons(card)) == list(QUICK)
    assert "refresh" not in card  # a notice must not turn itself into a plain presence card
    assert card["fallbackText"] == (
        "Your hold ended. In a call ended at 5:30 PM.\n"
        "Teams shows you as In a call until 5:30 PM (Europe/Berlin). Status: Out for lunch, until 3:00 PM."
    )


def test_notice_without_presence_is_just_the_message() -> None:
    card = cards.notice_card("Couldn't set your presence!", "Microsoft Graph was unavailable.")
    assert texts(card) == ["Couldn't set your presence!", "Microsoft Graph was unavailable."]
    assert "actions" not in card
    assert card["fallbackText"] == "Couldn't set your presence! Microsoft Graph was unavailable."


# -- text_fallback ---------------------------------------------------------------------------------


def test_text_fallback_of_a_view_matches_its_card() -> None:
    for presence in (busy_view(), available_view(), dnd_view(), offline_view()):
        assert cards.text_fallback(presence) == cards.presence_card(presence)["fallbackText"]
    for error in ERROR_VIEWS.values():
        assert cards.text_fallback(error) == cards.error_card(error)["fallbackText"]
    help_view = HelpView(intro="I didn't understand “coffee”.", commands=COMMANDS.docs())
    assert cards.text_fallback(help_view) == cards.help_card(help_view)["fallbackText"]
    welcome = WelcomeView(user_name="Ada Lovelace", commands=COMMANDS.docs(), tries=COMMANDS.welcome())
    assert cards.text_fallback(welcome) == cards.welcome_card(welcome)["fallbackText"]


def test_text_fallback_of_a_foreign_card_reads_its_first_texts() -> None:
    foreign = {
        "type": "AdaptiveCard",
        "body": [
            {"type": "Container", "items": [{"type": "TextBlock", "text": "One"}]},
            {"type": "TextBlock", "text": "Two"},
            {"type": "TextBlock", "text": "Three"},
        ],
    }
    assert cards.text_fallback(foreign) == "One\nTwo"


def test_fallback_names_the_zone_with_the_first_time_it_shows() -> None:
    view = busy_view().model_copy(update={"outcome": Outcome(summary="Status message set.")})
    assert cards.text_fallback(view) == (
        "Status message set. Teams shows you as In a call. "
        "Status: Out for lunch, until 3:00 PM (Europe/Berlin)."
    )


def test_an_error_cards_example_is_also_a_button_that_runs_it() -> None:
    card = cards.error_card(
        ErrorView(title="I couldn't do that", message="“30” needs a unit.", example="/busy 30m")
    )
    assert [(a["title"], a["data"]["command"]) for a in card["actions"]] == [("Try /busy 30m", "/busy 30m")]
    assert "actions" not in cards.error_card(ErrorView(title="Graph is busy", message="Try again."))


@pytest.mark.parametrize(
    ("availability", "activity", "held", "status", "expected"),
    [
        ("Available", "Available", None, None, ["Busy 30m", "Do not disturb 1h", "Refresh"]),
        (
            "DoNotDisturb",
            "DoNotDisturb",
            Layer.PREFERRED,
            None,
            ["Busy 30m", "Available", "Extend 30 min", "End now", "Refresh"],
        ),
        ("Away", "Away", None, "Lunch", ["Available", "Busy 30m", "Clear status message", "Refresh"]),
        ("Offline", "OffWork", None, None, ["Available", "Busy 30m", "Refresh"]),
    ],
)
def test_the_buttons_fit_the_state_the_card_shows(
    availability: str, activity: str, held: Layer | None, status: str | None, expected: list[str]
) -> None:
    outcome = None
    if held is not None:
        outcome = Outcome(summary="Set.", label="x", layer=held, requested_end=NOW + timedelta(hours=1))
    view = PresenceView(
        presence=PresenceSnapshot(
            availability=availability, activity=activity, label="x", tone=Tone.NEUTRAL, status_message=status
        ),
        outcome=outcome,
        time_zone=BERLIN,
        now=NOW,
    )
    actions = cards.presence_card(view)["actions"]
    assert [a["title"] for a in actions] == expected
    if held is Layer.PREFERRED:
        assert {a["title"]: a["data"]["command"] for a in actions}["End now"] == "/reset"
