"""The `[when]` part of a command: a length (`30m`, `PT30M`) or an end time (`until 5pm`), resolved
against the caller's `now` and time zone. Pure: no I/O, no clock reads.

Libraries do what they do well: `pytimeparse2` reads human durations (`1h 30m`, `90 minutes`, `1.5h`),
pydantic's `TypeAdapter(timedelta)` reads ISO 8601 durations (`PT30M`), `dateutil` reads calendar dates
(`2026-03-30`, `March 30`), steps to a weekday (`relativedelta`) and moves a local time out of a DST gap
(`tz.resolve_imaginary`), and `zoneinfo` does the time zone arithmetic. What is left is chat phrasing no
library covers and is written here: clock words (`5pm`, `noon`, `till 5`), day words (`tomorrow`,
`friday`), the rule that a passed time means tomorrow, and refusing what is ambiguous or absurd.

Choices (the help text and the tests rely on them):
- Durations are exact elapsed time (computed in UTC); wall-clock ends are built in the user's zone, so
  `until 9am` is 9:00 local even the morning after a DST change. A time in a spring-forward gap moves
  forward by the gap; an ambiguous one (autumn) takes the first occurrence (fold=0).
- `today`, `eod`, `end of day`, `rest of the day`, `midnight` mean the end of the local calendar day (next
  00:00), like the Teams picker's "Reset status after: Today"; `tomorrow` alone (`/dnd tomorrow`) means the
  whole of tomorrow. `this week` / `end of week` mean the end of Sunday; `next week` the end of next
  week's Sunday (so usually more than the 7 days allowed, and refused saying so).
- A clock time alone that has passed today means tomorrow. A bare hour without am/pm (`till 5`) means
  the next time the clock shows it (5:00 or 17:00, whichever comes first); with a day (`tomorrow 9`) it
  is read as working hours: 7–11 morning, 1–6 afternoon. `09:00`-style, 0 and 12–23 are 24-hour
  times (a plain `12` is noon).
- A day without a time after `until` means the start of that day (`until monday` = Monday 00:00,
  `until tomorrow` = tonight's midnight); a weekday is its next occurrence whose start is still ahead.
  Explicit days in the past (`yesterday 5pm`, `today 9am` at 10am, a past date) are refused.
- A bare number (`/busy 30`) is neither minutes nor a time: it is refused with a suggestion.
- Nothing may end more than 7 days ahead; zero or negative lengths are refused.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import pytimeparse2
from dateutil import parser as dateutil_parser
from dateutil import tz as dateutil_tz
from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta
from dateutil.relativedelta import weekday as RelWeekday
from pydantic import TypeAdapter, ValidationError

from bot.commands.model import When
from bot.core.zones import zone_info

__all__ = [
    "FOR_WORDS",
    "MAX_AHEAD",
    "UNTIL_WORDS",
    "WhenError",
    "is_bare_number",
    "parse_duration",
    "parse_when",
    "resolve_zone",
]

_UTC_ZONE: Final = ZoneInfo("UTC")
MAX_AHEAD: Final = timedelta(days=7)

# Words that open a [when] clause. `to` only for states: in a status message it is too common.
FOR_WORDS: Final = frozenset({"for"})
UNTIL_WORDS: Final = frozenset({"until", "till", "til", "'til", "untill", "to"})

_ISO = TypeAdapter(timedelta)

# Units pytimeparse2 understands; checked first so that it never falls back to float("1e5") seconds.
_UNIT = (
    r"(?:ys?|yrs?|years?|mos?|mths?|months?|w|wks?|weeks?|d|dys?|days?|h|hrs?|hours?"
    r"|m|mins?|minutes?|s|secs?|seconds?)"
)
_DURATION_SHAPE = re.compile(rf"[+-]?\s*(?:\d+(?:\.\d+)?\s*{_UNIT}\s*,?\s*)+")
_ISO_SHAPE = re.compile(r"[+-]?p[0-9tywdhms.,]+")
_BARE_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")

# Spoken lengths rewritten into what pytimeparse2 reads, tried in order.
_SPOKEN_LENGTHS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"^(?:the\s+)?next\s+"), ""),
    (re.compile(r"\b(?:an?\s+|one\s+)?hour\s+and\s+a\s+half\b"), "90 minutes"),
    (re.compile(r"\b(\d+)\s+and\s+a\s+half\s+(hours?|hrs?|h)\b"), r"\1.5 \2"),
    (re.compile(r"\b(?:a\s+)?half\s+(?:an?\s+)?hour\b"), "30 minutes"),
    (re.compile(r"\b(?:a\s+)?quarter\s+(?:of\s+)?(?:an?\s+)?hour\b"), "15 minutes"),
    (re.compile(r"\b(?:an?|one)\s+(?=(?:hours?|hrs?|minutes?|mins?|days?|weeks?|seconds?|secs?)\b)"), "1 "),
    (re.compile(r"^(?=(?:hour|hr|minute|min|day|week)\b)"), "1 "),
    (re.compile(r"\band\b"), " "),
    (re.compile(r"^(\d+)\s*h(?:ours?|rs?)?\s*(\d{1,2})$"), r"\1h\2m"),  # 1h30 → 1h30m
)

_END_OF_DAY_WORDS: Final = frozenset(
    {
        "today",
        "eod",
        "end of day",
        "end of the day",
        "end of today",
        "the end of the day",
        "rest of the day",
        "the rest of the day",
        "rest of day",
        "rest of today",
        "the rest of today",
        "all day",
        "the whole day",
        "the day",
        "midnight",
    }
)
_END_OF_WEEK_WORDS: Final = frozenset(
    {
        "this week",
        "the week",
        "eow",
        "end of week",
        "end of the week",
        "the end of the week",
        "rest of the week",
        "the rest of the week",
    }
)

_TOMORROW_WORDS: Final = frozenset(
    {"tomorrow", "tomorow", "tmrw", "tmr", "all day tomorrow", "all of tomorrow"}
)
_NEXT_WEEK_WORDS: Final = frozenset({"next week", "all next week", "all of next week", "the next week"})

_RELATIVE_DAYS: Final[dict[str, int]] = {
    "today": 0,
    "tomorrow": 1,
    "tomorow": 1,
    "tmrw": 1,
    "tmr": 1,
    "yesterday": -1,
}
_WEEKDAYS: Final[dict[str, RelWeekday]] = {
    **dict.fromkeys(("monday", "mon"), MO),
    **dict.fromkeys(("tuesday", "tue", "tues"), TU),
    **dict.fromkeys(("wednesday", "wed"), WE),
    **dict.fromkeys(("thursday", "thu", "thur", "thurs"), TH),
    **dict.fromkeys(("friday", "fri"), FR),
    **dict.fromkeys(("saturday", "sat"), SA),
    **dict.fromkeys(("sunday", "sun"), SU),
}

# `17:30`, `5.30pm`, and the `17h` / `17h30` many Europeans write (always a 24-hour clock).
_CLOCK = r"(?:\d{1,2}(?:[:.h]\d{2}|h)?\s*(?:am|pm|a|p)?|noon|midday|midnight|eod|end of (?:the )?day)"
_CLOCK_PARTS = re.compile(
    r"(?P<h>\d{1,2})(?:(?P<sep>[:.h])(?P<m>\d{2})|(?P<sep_only>h))?\s*(?P<ap>am|pm|a|p)?"
)
_SPLITS: Final[tuple[re.Pattern[str], ...]] = (
    re.compile(rf"(?P<clock>{_CLOCK})"),
    re.compile(rf"(?P<day>.+?)\s+(?P<clock>{_CLOCK})"),
    re.compile(rf"(?P<clock>{_CLOCK})\s+(?P<day>.+)"),
    re.compile(r"(?P<day>.+)"),
)

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_SHAPE = re.compile(
    rf"\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?"
    rf"|{_MONTH}\s+{_ORDINAL}(?:,?\s+\d{{4}})?|{_ORDINAL}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
)


class WhenError(ValueError):
    """A [when] part that is recognisably a length or an end time, but one we refuse.

    `example` is a correct [when] part to copy (`30m`, `until 5pm`); the parser puts a command before it.
    """

    def __init__(self, message: str, example: str) -> None:
        super().__init__(message)
        self.message = message
        self.example = example


@dataclass(frozen=True, slots=True)
class _Clock:
    hour: int  # 0–23; for `ambiguous` the morning reading (1–12)
    minute: int = 0
    ambiguous: bool = False  # 1–12 without am/pm: could be morning or afternoon
    end_of_day: bool = False  # 24:00, the start of the next day


def resolve_zone(tz: ZoneInfo | str | None) -> ZoneInfo:
    """The user's zone; None, empty or unknown names fall back to UTC instead of failing."""
    if isinstance(tz, ZoneInfo):
        return tz
    return zone_info(tz) or _UTC_ZONE


def is_bare_number(text: str) -> bool:
    """`30`, `5`: a number without a unit, which could be minutes or an hour of the day."""
    return _BARE_NUMBER.fullmatch(text.strip()) is not None


def parse_duration(text: str) -> timedelta | None:
    """A length as typed (`1h 30m`, `90 minutes`, `half an hour`, `PT30M`), or None if it isn't one.

    The sign is kept: callers decide what a zero or negative length means.
    """
    words = _normalise(text)
    if _ISO_SHAPE.fullmatch(words):
        try:
            return _ISO.validate_python(words.upper())
        except ValidationError:
            return None
    for pattern, replacement in _SPOKEN_LENGTHS:
        words = pattern.sub(replacement, words).strip()
    if not _DURATION_SHAPE.fullmatch(words):
        return None
    seconds = pytimeparse2.parse(words)
    if not isinstance(seconds, int | float):
        return None
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        return None


def parse_when(text: str, *, now: datetime, zone: ZoneInfo, allow_to: bool = True) -> When | None:
    """Read a [when] part (`30m`, `for 45 min`, `until 5pm`, `5pm`, `tomorrow 9am`, `eod`).

    None means the text is not a length or an end time at all; `WhenError` means it is one we refuse
    (zero or negative, more than 7 days, in the past, a day without a time). `allow_to` accepts
    `to 5pm` as `until 5pm`.
    """
    typed = " ".join(text.split()).rstrip("!")
    if typed.endswith(".") and not typed.lower().endswith(".m."):  # keep `5 p.m.` whole
        typed = typed.rstrip(".")
    words = _normalise(text)
    if not words:
        return None
    now_utc = _as_utc(now)
    head, _, rest = words.partition(" ")
    if head in FOR_WORDS and rest:
        end = _keyword_end(rest, now_utc, zone)
        if end is not None:
            return _checked_end(end, now_utc, typed)
        return _from_duration(rest, now_utc, zone, typed)
    if head in UNTIL_WORDS and rest and (allow_to or head != "to"):
        end = _wall_end(rest, now_utc, zone, bare=False)
        return _checked_end(end, now_utc, typed) if end is not None else None
    if is_bare_number(words):
        return None  # `30`: minutes or 30 o'clock? The caller asks which.
    end = _keyword_end(words, now_utc, zone)  # before lengths: `next week` is not "7 days"
    if end is not None:
        return _checked_end(end, now_utc, typed)
    when = _from_duration(words, now_utc, zone, typed)
    if when is not None:
        return when
    end = _wall_end(words, now_utc, zone, bare=True)
    return _checked_end(end, now_utc, typed) if end is not None else None


# -- lengths -------------------------------------------------------------------------------------


def _from_duration(text: str, now_utc: datetime, zone: ZoneInfo, typed: str) -> When | None:
    duration = parse_duration(text)
    if duration is None:
        return None
    if duration <= timedelta(0):
        raise WhenError(f"“{typed}” isn't a length of time I can use: it has to be more than zero.", "30m")
    if duration > MAX_AHEAD:
        raise WhenError(f"“{typed}” is too long: the most I'll set is 7 days.", "7 days")
    # Exact elapsed time: add in UTC, then show it in the user's zone.
    return When(end=(now_utc + duration).astimezone(zone), duration=duration, text=typed)


# -- end times -----------------------------------------------------------------------------------


def _checked_end(end: datetime, now_utc: datetime, typed: str) -> When:
    if _as_utc(end) <= now_utc:
        raise WhenError(f"“{typed}” is already in the past.", "until tomorrow 9am")
    if _as_utc(end) - now_utc > MAX_AHEAD:
        raise WhenError(
            f"“{typed}” is more than 7 days away: the most I'll set is 7 days.", "until friday 5pm"
        )
    return When(end=end, duration=None, text=typed)


def _keyword_end(
    words: str, now_utc: datetime, zone: ZoneInfo, *, whole_days: bool = True
) -> datetime | None:
    """`today`, `eod`, `midnight`: the end of the local day; `this week`: the end of Sunday. With
    `whole_days` (not after `until`), `tomorrow` is the end of tomorrow and `next week` the end of its
    Sunday."""
    today = now_utc.astimezone(zone).date()
    if words in _END_OF_DAY_WORDS:
        return _local(today + timedelta(days=1), 0, 0, zone)
    if words in _END_OF_WEEK_WORDS:
        return _local(today + timedelta(days=7 - today.weekday()), 0, 0, zone)
    if whole_days and words in _TOMORROW_WORDS:
        return _local(today + timedelta(days=2), 0, 0, zone)
    if whole_days and words in _NEXT_WEEK_WORDS:
        return _local(today + timedelta(days=14 - today.weekday()), 0, 0, zone)
    if not whole_days and words in _NEXT_WEEK_WORDS:  # `until next week`: its start, Monday 00:00
        return _local(today + timedelta(days=7 - today.weekday()), 0, 0, zone)
    return None


def _wall_end(words: str, now_utc: datetime, zone: ZoneInfo, *, bare: bool) -> datetime | None:
    """An end time after `until` (or alone when `bare`): `5pm`, `17:30`, `tomorrow 9am`, `friday eod`."""
    end = _keyword_end(words, now_utc, zone, whole_days=bare)
    if end is not None:
        return end
    words = re.sub(r"(\d{4}-\d{1,2}-\d{1,2})t(?=\d)", r"\1 ", words)  # ISO 2026-03-30T09:00
    words = re.sub(r"\b(?:at|on|this|o'?clock)\b", " ", words)
    words = " ".join(words.split())
    for split in _SPLITS:
        match = split.fullmatch(words)
        if match is None:
            continue
        groups = match.groupdict()
        clock = _clock(groups["clock"]) if groups.get("clock") else None
        if groups.get("clock") and clock is None:
            continue
        if groups.get("day") is None:
            assert clock is not None
            if bare and clock.ambiguous and ":" not in words:
                return None  # `/busy 5`: refused by the caller as a bare number
            return _next_occurrence(clock, now_utc, zone)
        end = _on_day(groups["day"], clock, now_utc, zone)
        if end is not None:
            return end
    return None


def _clock(words: str) -> _Clock | None:
    """`5pm`, `5:30 pm`, `5.30pm`, `17:30`, `17h30`, `17h`, `09:00`, `5`, `noon`, `midnight`; None if
    not a time of day."""
    if words in {"noon", "midday"}:
        return _Clock(12)
    if words in {"midnight", "eod", "end of day", "end of the day"}:
        return _Clock(0, end_of_day=True)
    match = _CLOCK_PARTS.fullmatch(words)
    if match is None:
        return None
    hour, minute, ampm = int(match["h"]), int(match["m"] or 0), match["ap"]
    if minute > 59:
        return None
    if "h" in (match["sep"], match["sep_only"]):  # 17h, 17h30: a 24-hour clock, never with am/pm
        return None if ampm or hour > 23 else _Clock(hour, minute)
    if ampm:
        if not 1 <= hour <= 12:
            return None
        return _Clock(hour % 12 + (12 if ampm.startswith("p") else 0), minute)
    if hour == 24 and minute == 0:
        return _Clock(0, end_of_day=True)
    if hour > 23:
        return None
    if hour == 0 or hour >= 12 or match["h"].startswith("0"):
        return _Clock(hour, minute)  # 24-hour reading; a plain 12 is noon
    return _Clock(hour, minute, ambiguous=True)


def _next_occurrence(clock: _Clock, now_utc: datetime, zone: ZoneInfo) -> datetime:
    """The first time after now that the local clock shows `clock` (today, else tomorrow)."""
    today = now_utc.astimezone(zone).date()
    hours = {clock.hour % 12, clock.hour % 12 + 12} if clock.ambiguous else {clock.hour}
    candidates = (
        _at(today + timedelta(days=offset), _Clock(hour, clock.minute, end_of_day=clock.end_of_day), zone)
        for offset in (0, 1, 2)
        for hour in hours
    )
    return min((c for c in candidates if _as_utc(c) > now_utc), key=_as_utc)


def _on_day(day_words: str, clock: _Clock | None, now_utc: datetime, zone: ZoneInfo) -> datetime | None:
    """An end on a named day: `tomorrow 9am`, `friday 5pm`, `2026-03-30 17:00`; None if not a day."""
    today = now_utc.astimezone(zone).date()
    weekday = _WEEKDAYS.get(day_words)
    if day_words in _RELATIVE_DAYS:
        day = today + timedelta(days=_RELATIVE_DAYS[day_words])
    elif weekday is not None:
        day = today + relativedelta(weekday=weekday)  # today or the next one
    else:
        found = _calendar_date(day_words, today)
        if found is None:
            return None
        day = found
    if day < today:
        raise WhenError(f"“{day_words}” is already in the past.", "until tomorrow 9am")
    if clock is None:  # `until friday`: until Friday begins (`today` is a keyword: the end of today)
        start = _local(day, 0, 0, zone)
        if weekday is not None and _as_utc(start) <= now_utc:
            start = _local(day + timedelta(days=7), 0, 0, zone)  # `until friday`, said on a Friday
        return start
    if clock.ambiguous:  # `tomorrow 9`, `friday 5`: read as working hours
        clock = _Clock(clock.hour + 12 if clock.hour < 7 else clock.hour, clock.minute)
    end = _at(day, clock, zone)
    if weekday is not None and _as_utc(end) <= now_utc:
        end = _at(day + timedelta(days=7), clock, zone)  # friday 5pm, said on a Friday at 6pm
    return end


def _calendar_date(words: str, today: date) -> date | None:
    """`2026-03-30`, `March 30`, `30 march`, `3/30` through dateutil; a year-less past date is next year's."""
    if not _DATE_SHAPE.fullmatch(words):
        return None
    default = datetime(today.year, today.month, today.day)
    try:
        found = dateutil_parser.parse(words, default=default).date()
    except (dateutil_parser.ParserError, ValueError, OverflowError):
        raise WhenError(f"“{words}” isn't a date I know.", "until tomorrow 9am") from None
    if found < today and not re.search(r"\d{4}", words):
        with contextlib.suppress(ValueError):  # 29 February stays this year's (and in the past)
            found = found.replace(year=found.year + 1)
    return found


def _at(day: date, clock: _Clock, zone: ZoneInfo) -> datetime:
    if clock.end_of_day:
        return _local(day + timedelta(days=1), 0, 0, zone)
    return _local(day, clock.hour, clock.minute, zone)


def _local(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone`: fold=0 (the first) when ambiguous, moved past a DST gap."""
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    if not dateutil_tz.datetime_exists(moment):
        moment = dateutil_tz.resolve_imaginary(moment)
    return moment


# -- helpers -------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Lower case, one space between words, no trailing full stop; `p.m.` → `pm`."""
    words = " ".join(text.lower().split()).rstrip(".!")
    words = re.sub(r"\b([ap])\.m\b\.?", r"\1m", words)
    return words.replace("’", "'")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # callers promise aware datetimes; don't crash
    return moment.astimezone(UTC)
