"""The words commands are made of: every alias of a state or verb, what apps can't set and why, and the
zone abbreviations people type. Tables only; `bot.commands.parser` reads them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final, NamedTuple

from bot.core.states import State


class Verb(StrEnum):
    """Commands that are not a presence state."""

    CLEAR = "clear"
    RESET = "reset"
    STATUS = "status"
    STATUS_CLEAR = "status clear"
    SHOW = "presence"
    HELP = "help"
    TIMEZONE = "timezone"
    NOTIFY = "notify"
    PICKER = "set"
    EXTEND = "extend"


class Unsettable(NamedTuple):
    """A state people ask for that Graph does not let apps set; why, and what to use instead."""

    message: str
    example: str


_MEETING = Unsettable(
    "Teams shows “In a meeting” from your calendar; apps can't set it. "
    "Use /busy (in a call) or /conference instead, or set a message with /status.",
    "/busy 1h",
)
_OUT_OF_OFFICE = Unsettable(
    "“Out of office” comes from your calendar or Outlook automatic replies; apps can't set it. "
    "Set a message with /status instead, or use /busy or /conference.",
    "/status Out of office until tomorrow 9am",
)

# Every word or phrase a command may start with (case-insensitive, matched on whole words, longest
# first). Each alias means exactly one thing.
ALIASES: Final[Mapping[str, State | Verb]] = {
    # Available
    "available": State.AVAILABLE,
    "online": State.AVAILABLE,
    "free": State.AVAILABLE,
    # Busy, in a call
    "busy": State.BUSY,
    "call": State.BUSY,
    "in a call": State.BUSY,
    "on a call": State.BUSY,
    "in call": State.BUSY,
    # Busy, in a conference call
    "conference": State.CONFERENCE,
    "conference call": State.CONFERENCE,
    "in a conference": State.CONFERENCE,
    "in a conference call": State.CONFERENCE,
    # Busy as picked in Teams (Busy/Busy, a preferred presence)
    "busy picked": State.BUSY_PICKED,
    "picked busy": State.BUSY_PICKED,
    "appear busy": State.BUSY_PICKED,
    # Away: Teams' "Appear away" (a preferred presence: it shows even while Teams is open)
    "away": State.AWAY,
    "appear away": State.AWAY,
    "afk": State.AWAY,
    # Presenting
    "presenting": State.PRESENTING,
    # Do not disturb; Teams shows Focusing as DoNotDisturb too (docs/graph-facts.md §1)
    "dnd": State.DND,
    "do not disturb": State.DND,
    "donotdisturb": State.DND,
    "do-not-disturb": State.DND,
    "focus": State.DND,
    "focusing": State.DND,
    # Be right back
    "brb": State.BRB,
    "be right back": State.BRB,
    "berightback": State.BRB,
    "be-right-back": State.BRB,
    # Appear offline
    "offline": State.OFFLINE,
    "appear offline": State.OFFLINE,
    "appearoffline": State.OFFLINE,
    "invisible": State.OFFLINE,
    # The bot's session only
    "clear": Verb.CLEAR,
    # Back to automatic: the session and the picked status both go
    "reset": Verb.RESET,
    "auto": Verb.RESET,
    "automatic": Verb.RESET,
    "back": Verb.RESET,
    # Status message
    "status": Verb.STATUS,
    "clear status": Verb.STATUS_CLEAR,
    "clear status message": Verb.STATUS_CLEAR,
    # Read only
    "presence": Verb.SHOW,
    "whoami": Verb.SHOW,
    "who am i": Verb.SHOW,
    "show": Verb.SHOW,
    "help": Verb.HELP,
    "timezone": Verb.TIMEZONE,
    "time zone": Verb.TIMEZONE,
    "tz": Verb.TIMEZONE,
    "notify": Verb.NOTIFY,
    "notifications": Verb.NOTIFY,
    "notices": Verb.NOTIFY,
    "commands": Verb.HELP,
    # Longer, for the state the bot holds
    "extend": Verb.EXTEND,
    # The status picker card
    "set": Verb.PICKER,
    "set status": Verb.PICKER,
    "picker": Verb.PICKER,
    "status picker": Verb.PICKER,
    "?": Verb.HELP,
}

# States Teams has but Graph won't let an app set (docs/graph-facts.md §1): refused with what to use instead.
UNSETTABLE: Final[Mapping[str, Unsettable]] = {
    "meeting": _MEETING,
    "in a meeting": _MEETING,
    "in meeting": _MEETING,
    "out of office": _OUT_OF_OFFICE,
    "out of the office": _OUT_OF_OFFICE,
    "out-of-office": _OUT_OF_OFFICE,
    "outofoffice": _OUT_OF_OFFICE,
    "ooo": _OUT_OF_OFFICE,
    "oof": _OUT_OF_OFFICE,
}

# `/status <one of these>` removes the message instead of setting it.
STATUS_CLEAR_WORDS: Final = frozenset({"clear", "reset", "off", "none", "remove", "delete"})


# Abbreviations people type for a zone. Several are also IANA names (EST, MST, CET…), but fixed offsets
# that ignore daylight saving, and most are ambiguous (CST: US Central or China; IST: India, Ireland or
# Israel): they are refused with the zones they may mean.
ZONE_ABBREVIATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "est": ("America/New_York", "America/Toronto"),
    "edt": ("America/New_York", "America/Toronto"),
    "et": ("America/New_York", "America/Toronto"),
    "cst": ("America/Chicago", "America/Mexico_City", "Asia/Shanghai"),
    "cdt": ("America/Chicago", "America/Mexico_City"),
    "ct": ("America/Chicago",),
    "mst": ("America/Denver", "America/Phoenix"),
    "mdt": ("America/Denver",),
    "mt": ("America/Denver",),
    "pst": ("America/Los_Angeles", "America/Vancouver"),
    "pdt": ("America/Los_Angeles", "America/Vancouver"),
    "pt": ("America/Los_Angeles",),
    "akst": ("America/Anchorage",),
    "hst": ("Pacific/Honolulu",),
    "gmt": ("Europe/London", "UTC"),
    "bst": ("Europe/London",),
    "wet": ("Europe/Lisbon",),
    "cet": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid"),
    "cest": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid"),
    "eet": ("Europe/Athens", "Europe/Helsinki", "Africa/Cairo"),
    "eest": ("Europe/Athens", "Europe/Helsinki"),
    "msk": ("Europe/Moscow",),
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "pkt": ("Asia/Karachi",),
    "sgt": ("Asia/Singapore",),
    "hkt": ("Asia/Hong_Kong",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "aest": ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane"),
    "aedt": ("Australia/Sydney", "Australia/Melbourne"),
    "acst": ("Australia/Adelaide", "Australia/Darwin"),
    "awst": ("Australia/Perth",),
    "nzst": ("Pacific/Auckland",),
    "nzdt": ("Pacific/Auckland",),
}
