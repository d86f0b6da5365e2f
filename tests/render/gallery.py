"""Every kind of card the bot sends, built from realistic views with the `cards` package, by name.

The names are the file names in docs/cards/. Presence snapshots and explanations come from the service's
own `snapshot()` and `explain()`, command errors from the real parser, Graph errors from the real
`graph_error_view()`, so the pictures show what a user would really read. All times are relative to one
fixed instant, so the cards (and their pictures) are the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cards
from bot.colleagues.service import colleague_view
from bot.commands.model import CommandError, Help
from bot.core.colleagues import Colleague
from bot.core.states import STATES, State
from bot.core.views import (
    ColleagueView,
    HelpView,
    MissView,
    Outcome,
    PresenceView,
    WatchesView,
    WatchLine,
    WatchView,
    WelcomeView,
    WhoView,
)
from bot.graph.auth import TokenError
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
from bot.graph.models import DateTimeTimeZone, ItemBody, OutOfOfficeSettings, Presence, StatusMessage
from bot.presence.errors import (
    command_error_view,
    graph_error_view,
    internal_error_view,
    tenant_refused_view,
    token_error_view,
)
from bot.presence.service import explain, snapshot
from bot.turns.commands import COMMANDS, parse

Card = dict[str, Any]

# Friday 20 Nov 2026, 13:00 UTC: 2:00 PM in Berlin.
NOW = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"
USER = "Ada Lovelace"
BOT_NAMES = ["Presence Bot"]


def graph_presence(
    availability: str, activity: str, status: str | None = None, status_for: timedelta | None = None
) -> Presence:
    """A presence as Graph returns it, optionally with a status message and its expiry."""
    message = None
    if status is not None:
        expiry = DateTimeTimeZone.from_datetime(NOW + status_for) if status_for else None
        message = StatusMessage(message=ItemBody(content=status), expiry_date_time=expiry)
    return Presence(availability=availability, activity=activity, status_message=message)


def after(state: State, reported: Presence, outcome: Outcome) -> PresenceView:
    """The view after asking for `state` when Graph then reports `reported`."""
    return PresenceView(
        user_name=USER,
        presence=snapshot(reported),
        outcome=outcome,
        explanation=explain(STATES[state], reported),
        time_zone=ZONE,
        now=NOW,
    )


def set_to(
    state: State, end: datetime, *, lapses_at: datetime | None = None, notes: tuple[str, ...] = ()
) -> Outcome:
    spec = STATES[state]
    return Outcome(
        summary=f"Set to {spec.label}.",
        label=spec.label,
        layer=spec.layer,
        requested_end=end,
        lapses_at=lapses_at,
        notes=notes,
    )


def shown(presence: Presence, outcome: Outcome | None = None) -> PresenceView:
    """The view of a command that changes no state (/presence, /status, /reset)."""
    return PresenceView(user_name=USER, presence=snapshot(presence), outcome=outcome, time_zone=ZONE, now=NOW)


PICKED = "A picked status shows over anything apps set, while you're signed in to Teams."


def presence_views() -> dict[str, PresenceView]:
    busy = graph_presence("Busy", "InACall", "Focus time", timedelta(hours=2))
    return {
        # /busy until 5:30pm, with a status message already set
        "presence-busy": after(State.BUSY, busy, set_to(State.BUSY, NOW + timedelta(hours=3, minutes=30))),
        # /available 1h: Teams fades an app's Available after 5 minutes
        "presence-available": after(
            State.AVAILABLE,
            graph_presence("Available", "Available"),
            set_to(
                State.AVAILABLE,
                NOW + timedelta(hours=1),
                lapses_at=NOW + timedelta(minutes=5),
                notes=(
                    "Teams fades an app's Available unless it is refreshed: expect Available (inactive) "
                    "at 2:05 PM and Away at 2:10 PM.",
                ),
            ),
        ),
        # /busy 2m: raised to Graph's 5-minute minimum
        "presence-busy-minimum": after(
            State.BUSY,
            graph_presence("Busy", "InACall"),
            set_to(
                State.BUSY,
                NOW + timedelta(minutes=5),
                notes=(
                    "Graph's shortest app presence is 5 minutes, so this lasts 5 minutes "
                    "(you asked for 2 minutes).",
                ),
            ),
        ),
        # /presenting 6h: Graph's 4-hour cap on an app session
        "presence-presenting-capped": after(
            State.PRESENTING,
            graph_presence("DoNotDisturb", "Presenting"),
            set_to(
                State.PRESENTING,
                NOW + timedelta(hours=6),
                lapses_at=NOW + timedelta(hours=4),
                notes=(
                    "Graph lets an app hold a presence for at most 4 hours at a time, so this lapses at "
                    "6:00 PM unless it is set again.",
                ),
            ),
        ),
        # /busy while a picked Do not disturb wins
        "presence-busy-under-dnd": after(
            State.BUSY,
            graph_presence("DoNotDisturb", "DoNotDisturb"),
            set_to(State.BUSY, NOW + timedelta(minutes=30)),
        ),
        # /dnd 1h
        "presence-dnd": after(
            State.DND,
            graph_presence("DoNotDisturb", "DoNotDisturb"),
            set_to(State.DND, NOW + timedelta(hours=1), notes=(PICKED,)),
        ),
        # /dnd until tomorrow 9am while signed out of Teams: Graph reports Offline
        "presence-dnd-signed-out": after(
            State.DND,
            graph_presence("Offline", "Offline"),
            set_to(State.DND, datetime(2026, 11, 21, 8, 0, tzinfo=UTC), notes=(PICKED,)),
        ),
        # /brb (no time): Graph's default for a picked status
        "presence-brb": after(
            State.BRB,
            graph_presence("BeRightBack", "BeRightBack"),
            set_to(
                State.BRB,
                NOW + timedelta(days=7),
                notes=("Without a time, Teams keeps a picked Be right back for 7 days.", PICKED),
            ),
        ),
        # /offline 2h
        "presence-offline": after(
            State.OFFLINE,
            graph_presence("Offline", "OffWork"),
            set_to(State.OFFLINE, NOW + timedelta(hours=2), notes=(PICKED,)),
        ),
        # /status Out for lunch for 1h
        "presence-status-message": shown(
            graph_presence("Available", "Available", "Out for lunch", timedelta(hours=1)),
            Outcome(summary="Status message set.", requested_end=NOW + timedelta(hours=1)),
        ),
        # /reset
        "presence-reset": shown(
            graph_presence("Available", "Available"),
            Outcome(summary="Back to automatic: ended the bot's session and cleared your picked status."),
        ),
        # /presence
        "presence-away": shown(graph_presence("Away", "Away")),
        "presence-unknown": shown(graph_presence("PresenceUnknown", "PresenceUnknown")),
    }


def command_error(text: str) -> CommandError:
    """The parser's own refusal of `text`."""
    try:
        parse(text, now=NOW, tz=ZONE, bot_names=BOT_NAMES)
    except CommandError as error:
        return error
    raise AssertionError(f"the parser accepted {text!r}; the gallery needs a command it refuses")


def graph_error(kind: type[GraphError], code: str) -> GraphError:
    # The exception's own text never reaches a card; a realistic one makes sure of it.
    return kind(f"{code}: raw Graph text", code=code, request_id="4b2a9c1e-request")


def error_views() -> dict[str, Card]:
    graph_errors: dict[str, GraphError] = {
        "permission-denied": graph_error(GraphPermissionDenied, "Forbidden"),
        "unauthorized": graph_error(GraphUnauthorized, "InvalidAuthenticationToken"),
        "throttled": graph_error(GraphThrottled, "TooManyRequests"),
        "timeout": graph_error(GraphTimeout, "Timeout"),
        "unavailable": graph_error(GraphUnavailable, "ServiceUnavailable"),
        "connection": graph_error(GraphConnectionError, "ConnectionError"),
        "not-found": graph_error(GraphNotFound, "ResourceNotFound"),
        "bad-request": graph_error(GraphBadRequest, "BadRequest"),
        "other": GraphError("teapot", status=418, code="ImATeapot"),
    }
    views: dict[str, Card] = {
        "error-command-time": cards.error_card(command_error_view(command_error("/busy 30 lightyears"))),
        "error-command-past": cards.error_card(command_error_view(command_error("/busy until yesterday"))),
        "error-status-too-long": cards.error_card(command_error_view(command_error("/status " + "x" * 300))),
        "error-tenant-refused": cards.error_card(tenant_refused_view()),
        "error-internal": cards.error_card(internal_error_view()),
        "error-token": cards.error_card(
            token_error_view(TokenError("invalid_client", error_codes=[7000215]))
        ),
    }
    views.update(
        {
            f"error-graph-{name}": cards.error_card(graph_error_view(error))
            for name, error in graph_errors.items()
        }
    )
    return views


def help_intro(text: str) -> str:
    command = parse(text, now=NOW, tz=ZONE, bot_names=BOT_NAMES)
    assert isinstance(command, Help) and command.unknown, f"{text!r} should be an unknown command"
    return f"I didn't understand “{command.unknown}”."


def notices() -> dict[str, Card]:
    """The notices a hold sends on its own (bot/presence/holds.py) and the answers to /notify and
    /timezone (bot/teams/handler.py), with their wording."""
    available, dnd = graph_presence("Available", "Available"), graph_presence("DoNotDisturb", "DoNotDisturb")
    return {
        "notice-hold-ended": cards.notice_card(
            "Your In a call has ended",
            "You asked to be In a call until now. Teams shows you as Available.",
            shown(available),
        ),
        "notice-hold-overridden": cards.notice_card(
            "Your In a call was overridden",
            "Teams now shows you as Do not disturb, set somewhere else, so I stopped holding In a call.",
            shown(dnd),
        ),
        "notice-hold-failed": cards.notice_card(
            "I couldn't keep you In a call",
            "Microsoft Graph kept failing, so I stopped holding In a call. Teams may keep showing it until "
            "Graph lets it lapse (13:05 UTC). Send the command again to retry.",
        ),
        "notice-notices-on": cards.notice_card(
            "Notices are on",
            "I'll message you here when a status I hold for you ends, is overridden or fails.",
        ),
        "notice-notices-off": cards.notice_card(
            "Notices are off", "I won't message you unless you write to me first."
        ),
        "notice-time-zone-set": cards.notice_card(
            f"Time zone set to {ZONE}", f"“until 5pm” and every time on my cards now use {ZONE}."
        ),
        "notice-time-zone-teams": cards.notice_card(
            "Following Teams' time zone", f"I'll use the time zone your Teams client reports (now {ZONE})."
        ),
    }


def gallery() -> dict[str, Card]:
    """Name → card, for every kind of card the bot sends."""
    views = presence_views()
    result: dict[str, Card] = {name: cards.presence_card(view) for name, view in views.items()}
    # In a personal chat the bot asks Teams to refresh the card for its viewer.
    result["presence-busy-refresh"] = cards.presence_card(views["presence-busy"], refresh_user_ids=["29:ada"])
    result.update(error_views())
    result["help"] = cards.help_card(HelpView(commands=COMMANDS.docs()))
    result["picker"] = cards.picker_card()
    result["help-unknown-command"] = cards.miss_card(
        MissView(unknown="coffee", commands=COMMANDS.shortlist())
    )
    result["help-did-you-mean"] = cards.miss_card(
        MissView(unknown="bsy", suggestion="/busy 30m", commands=COMMANDS.shortlist())
    )
    result["welcome"] = cards.welcome_card(
        WelcomeView(user_name=USER, commands=COMMANDS.docs(), tries=COMMANDS.welcome())
    )
    result["welcome-anonymous"] = cards.welcome_card(
        WelcomeView(commands=COMMANDS.docs(), tries=COMMANDS.welcome())
    )
    result.update(notices())
    result.update(colleague_cards())
    return result


def colleague(
    name: str, availability: str, activity: str, *, status: str | None = None, ooo: str | None = None
) -> ColleagueView:
    """A colleague as /who shows them, through the service's own `colleague_view`."""
    upn = name.split()[0].lower() + "@contoso.example"
    presence = graph_presence(availability, activity, status)
    if ooo is not None:
        presence.out_of_office_settings = OutOfOfficeSettings(is_out_of_office=True, message=ooo)
    return colleague_view(Colleague(aad_id=f"id-{upn}", name=name, upn=upn), presence)


def colleague_cards() -> dict[str, Card]:
    """/who, /watch, /watches and the watch notices."""
    megan = colleague("Megan Bowen", "Busy", "InACall", status="Design review until 3")
    adele = colleague("Adele Vance", "Available", "Available")
    isaiah = colleague("Isaiah Langer", "Away", "Away", ooo="On leave until Monday 7 Dec")
    later = NOW + timedelta(hours=4)
    return {
        "who": cards.who_card(
            WhoView(heading="Megan Bowen, Adele Vance and Isaiah Langer", people=(megan, adele, isaiah))
        ),
        "who-group-chat": cards.who_card(
            WhoView(
                heading="In this chat",
                people=(megan, adele),
                more=48,
                not_found=("Lee Gu is in another organization; I can only show and watch people in yours.",),
            )
        ),
        "watch": cards.watch_card(
            [WatchView(person=megan, back=False, watch_id=7, ends_at=later, time_zone=ZONE, now=NOW)]
        ),
        "watch-already-free": cards.watch_card(
            [WatchView(person=adele, back=False, watch_id=None, time_zone=ZONE, now=NOW)]
        ),
        "watches": cards.watches_card(
            WatchesView(
                watches=(
                    WatchLine(watch_id=7, name="Megan Bowen", back=False, ends_at=later),
                    WatchLine(watch_id=8, name="Isaiah Langer", back=True, ends_at=NOW + timedelta(hours=20)),
                ),
                cap=20,
                time_zone=ZONE,
                now=NOW,
            )
        ),
        "watches-none": cards.watches_card(
            WatchesView(watches=(), cap=20, time_zone=ZONE, now=NOW, title="Stopped watching Megan Bowen.")
        ),
        "notice-watch-free": cards.watch_notice_card(
            colleague("Megan Bowen", "Available", "Available", status="Back from the review"), back=False
        ),
        "notice-watch-ended": cards.watch_ended_card("Megan Bowen", back=False, ended="by 6:00 PM"),
    }
