"""Graph's presence rules, in one table (see docs/graph-facts.md §1–§3, "FACTS" below).

Everything that decides which Graph action, pair and duration a state means lives here, so the parser,
the service, the cards and the simulated tenant all agree.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import NamedTuple


class Layer(StrEnum):
    """Where a state is set: on the bot's own app session, or as the user's preferred presence."""

    SESSION = "session"  # setPresence with sessionId = the bot's app id
    PREFERRED = "preferred"  # setUserPreferredPresence, like picking it in Teams


class State(StrEnum):
    """The states a user can ask for."""

    AVAILABLE = "available"
    BUSY = "busy"
    CONFERENCE = "conference"
    AWAY = "away"
    BUSY_PICKED = "busy picked"
    PRESENTING = "presenting"
    DND = "dnd"
    BRB = "brb"
    OFFLINE = "offline"


class Pair(NamedTuple):
    availability: str
    activity: str


class StateSpec(NamedTuple):
    state: State
    layer: Layer
    pair: Pair
    label: str  # what Teams calls it


STATES: dict[State, StateSpec] = {
    State.AVAILABLE: StateSpec(State.AVAILABLE, Layer.SESSION, Pair("Available", "Available"), "Available"),
    State.BUSY: StateSpec(State.BUSY, Layer.SESSION, Pair("Busy", "InACall"), "In a call"),
    State.CONFERENCE: StateSpec(
        State.CONFERENCE, Layer.SESSION, Pair("Busy", "InAConferenceCall"), "In a conference call"
    ),
    # Teams' "Appear away": a picked status, so it shows while a Teams client is open and Available
    # (an app session's Away would be outranked by it, FACTS §3).
    State.AWAY: StateSpec(State.AWAY, Layer.PREFERRED, Pair("Away", "Away"), "Appear away"),
    # Teams' own "Busy" from the status picker (the bot's /busy is "In a call" on its session).
    State.BUSY_PICKED: StateSpec(State.BUSY_PICKED, Layer.PREFERRED, Pair("Busy", "Busy"), "Busy"),
    State.PRESENTING: StateSpec(
        State.PRESENTING, Layer.SESSION, Pair("DoNotDisturb", "Presenting"), "Presenting"
    ),
    State.DND: StateSpec(State.DND, Layer.PREFERRED, Pair("DoNotDisturb", "DoNotDisturb"), "Do not disturb"),
    State.BRB: StateSpec(State.BRB, Layer.PREFERRED, Pair("BeRightBack", "BeRightBack"), "Be right back"),
    State.OFFLINE: StateSpec(State.OFFLINE, Layer.PREFERRED, Pair("Offline", "OffWork"), "Appear offline"),
}

# setPresence: the only pairs Graph accepts on an app session (docs/graph-facts.md §2).
SESSION_PAIRS: frozenset[Pair] = frozenset(
    {
        Pair("Available", "Available"),
        Pair("Busy", "InACall"),
        Pair("Busy", "InAConferenceCall"),
        Pair("Away", "Away"),
        Pair("DoNotDisturb", "Presenting"),
    }
)

# setUserPreferredPresence: the pairs of the Teams status picker (docs/graph-facts.md §2).
PREFERRED_PAIRS: frozenset[Pair] = frozenset(
    {
        Pair("Available", "Available"),
        Pair("Busy", "Busy"),
        Pair("DoNotDisturb", "DoNotDisturb"),
        Pair("BeRightBack", "BeRightBack"),
        Pair("Away", "Away"),
        Pair("Offline", "OffWork"),
    }
)

SESSION_MIN = timedelta(minutes=5)
SESSION_MAX = timedelta(hours=4)
SESSION_GRAPH_DEFAULT = timedelta(minutes=5)  # what Graph uses when expirationDuration is omitted
AVAILABLE_FADE = timedelta(minutes=5)  # Available → Available/AvailableInactive without refresh
AVAILABLE_AWAY = timedelta(minutes=10)  # … → Away/Away


def preferred_default_expiry(availability: str) -> timedelta:
    """Graph's default expiry for a preferred presence with no expirationDuration (docs/graph-facts.md §2)."""
    if availability.lower() in {"busy", "donotdisturb"}:
        return timedelta(days=1)
    return timedelta(days=7)


STATUS_MESSAGE_MAX = 280  # what Teams' status editor and setStatusMessage allow (FACTS §2)

# Aggregation among sessions (docs/graph-facts.md §3): DoNotDisturb > Busy > Available > Away.
# BeRightBack and Offline are only reachable as a preferred presence; they rank with Away and below.
SESSION_RANK: dict[str, int] = {
    "donotdisturb": 5,
    "busy": 4,
    "busyidle": 4,
    "available": 3,
    "availableidle": 3,
    "away": 2,
    "berightback": 2,
    "offline": 0,
    "presenceunknown": 0,
}

# Teams labels for Graph pairs, keyed case-insensitively (docs/graph-facts.md §1).
_LABELS: dict[tuple[str, str], str] = {
    ("available", "available"): "Available",
    ("available", "availableinactive"): "Available (inactive)",
    ("availableidle", "available"): "Available (idle)",
    ("busy", "busy"): "Busy",
    ("busy", "inacall"): "In a call",
    ("busy", "inaconferencecall"): "In a conference call",
    ("busy", "inameeting"): "In a meeting",
    ("busyidle", "busyidle"): "Busy (idle)",
    ("donotdisturb", "donotdisturb"): "Do not disturb",
    ("donotdisturb", "presenting"): "Presenting",
    ("donotdisturb", "urgentinterruptionsonly"): "Urgent interruptions only",
    ("away", "away"): "Away",
    ("berightback", "berightback"): "Be right back",
    ("offline", "offwork"): "Appear offline",
    ("offline", "offline"): "Offline",
}
_AVAILABILITY_LABELS: dict[str, str] = {
    "available": "Available",
    "availableidle": "Available (idle)",
    "away": "Away",
    "berightback": "Be right back",
    "busy": "Busy",
    "busyidle": "Busy (idle)",
    "donotdisturb": "Do not disturb",
    "offline": "Offline",
    "presenceunknown": "Status unknown",
}


def teams_label(availability: str, activity: str) -> str:
    """How Teams names a Graph presence pair; unknown values are kept readable, never dropped."""
    if activity.lower() == "outofoffice":
        return "Out of office"
    label = _LABELS.get((availability.lower(), activity.lower()))
    if label:
        return label
    return _AVAILABILITY_LABELS.get(availability.lower(), availability or "Status unknown")


class Tone(StrEnum):
    """The colour family Teams uses for an availability (green, red, purple-red, yellow, grey)."""

    GOOD = "good"  # Available
    ATTENTION = "attention"  # Busy, Do not disturb
    WARNING = "warning"  # Away, Be right back
    NEUTRAL = "neutral"  # Offline, unknown


def tone(availability: str, activity: str = "") -> Tone:
    a = availability.lower()
    if activity.lower() == "outofoffice":
        return Tone.ATTENTION
    if a in {"available", "availableidle"}:
        return Tone.GOOD
    if a in {"busy", "busyidle", "donotdisturb"}:
        return Tone.ATTENTION
    if a in {"away", "berightback"}:
        return Tone.WARNING
    return Tone.NEUTRAL


class Icon(StrEnum):
    """The presence icon Teams draws beside a name."""

    AVAILABLE = "available"  # green circle, white check
    BUSY = "busy"  # red dot
    DO_NOT_DISTURB = "donotdisturb"  # red circle, white minus (also Presenting, Focusing)
    AWAY = "away"  # amber circle, white clock (also Be right back)
    OFFLINE = "offline"  # grey ring with a cross
    OUT_OF_OFFICE = "outofoffice"  # purple circle, white arrow
    UNKNOWN = "unknown"  # grey ring


def icon(availability: str, activity: str = "") -> Icon:
    """The icon Teams shows for a Graph presence pair; out of office wins, as in Teams."""
    a, act = availability.lower(), activity.lower()
    if act == "outofoffice":
        return Icon.OUT_OF_OFFICE
    if a in {"available", "availableidle"}:
        return Icon.AVAILABLE
    if a == "donotdisturb" or act in {"presenting", "focusing"}:
        return Icon.DO_NOT_DISTURB
    if a in {"busy", "busyidle"}:
        return Icon.BUSY
    if a in {"away", "berightback"}:
        return Icon.AWAY
    if a == "offline":
        return Icon.OFFLINE
    return Icon.UNKNOWN


# setUserPreferredPresence range: UNVERIFIED in Graph's docs (docs/graph-facts.md §2). We use the same
# 5-minute floor as sessions and a 7-day ceiling (the longest default Graph applies); the simulator
# enforces the same.
PREFERRED_MIN = timedelta(minutes=5)
PREFERRED_MAX = timedelta(days=7)
