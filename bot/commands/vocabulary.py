"""Words every command shares: states people ask for that apps can't set (and why), the words that clear
a status message, and the zone abbreviations people type. A command's own words are in its declaration
(`bot.turns.commands`). Tables only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple


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
