"""The sender's settings: `/timezone <IANA name>|auto` and `/notify on|off`. Models and their readers;
the words are in their declarations (`bot.turns.commands.preferences`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from bot.commands.model import Command, CommandError
from bot.commands.parser import Reading
from bot.commands.vocabulary import ZONE_ABBREVIATIONS
from bot.core.words import spoken_list


class SetTimeZone(Command):
    """`/timezone Europe/Berlin` (an IANA name), or `/timezone auto` (`zone=None`: follow Teams)."""

    zone: str | None


class SetNotices(Command):
    """`/notify on|off`: whether the bot may message the user when a hold ends, is overridden or fails."""

    enabled: bool


_ZONE_EXAMPLE = "/timezone Europe/Berlin"


@functools.cache
def _zone_names() -> Mapping[str, str]:
    """Every IANA zone name, keyed case-insensitively (`europe/berlin` → `Europe/Berlin`)."""
    import zoneinfo

    return {name.lower(): name for name in zoneinfo.available_timezones()}


def read_time_zone(reading: Reading) -> Command:
    """`/timezone Europe/Berlin`; `/timezone auto` goes back to the zone Teams reports."""
    tail = reading.tail
    if not tail:
        raise CommandError("Tell me which time zone, as an IANA name.", _ZONE_EXAMPLE)
    if tail.lower() in {"auto", "automatic", "teams", "reset", "default"}:
        return SetTimeZone(zone=None)
    meant = ZONE_ABBREVIATIONS.get(tail.strip().lower())
    if meant is not None:
        names = spoken_list(meant, "or")
        raise CommandError(
            f"“{tail.strip()}” is an abbreviation, not a time zone: it may mean {names}. Abbreviations "
            "don't follow daylight saving, so say the zone by its IANA name.",
            f"/timezone {meant[0]}",
        )
    wanted = tail.replace(" ", "_")
    name = _zone_names().get(wanted.lower())
    if name is None:
        raise CommandError(
            f"“{tail}” is not a time zone I know. Use an IANA name like Europe/Berlin, America/New_York "
            "or Asia/Tokyo (or /timezone auto to follow Teams).",
            _ZONE_EXAMPLE,
        )
    return SetTimeZone(zone=name)


def read_notify(reading: Reading) -> Command:
    value = reading.tail.lower()
    if value in {"on", "yes", "enable", "enabled", "true"}:
        return SetNotices(enabled=True)
    if value in {"off", "no", "disable", "disabled", "false", "stop"}:
        return SetNotices(enabled=False)
    raise CommandError("Say /notify on or /notify off.", "/notify off")
