"""Times as the user reads them: in their zone, relative to the moment the card was made.

"5:30 PM" today, "tomorrow 9:00 AM", "Fri 23 Nov 9:00 AM" further away (the year only when it differs).
Month and weekday names come from fixed English tables, not the process locale, so output is
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.zones import local

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class UserTimes:
    """Formats instants in `time_zone` (an IANA name; unknown names fall back to UTC, like `local`)."""

    now: datetime
    time_zone: str

    @property
    def zone(self) -> str:
        """The zone the times are actually shown in: `time_zone`, or "UTC" if that name is unknown."""
        return str(getattr(local(self.now, self.time_zone).tzinfo, "key", "UTC"))

    def day_and_clock(self, dt: datetime) -> tuple[str | None, str]:
        """("tomorrow", "9:00 AM"), (None, "5:30 PM") for today, ("Fri 23 Nov", "9:00 AM")."""
        at = local(dt, self.time_zone)
        today = local(self.now, self.time_zone).date()
        clock = f"{(at.hour % 12) or 12}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"
        days = (at.date() - today).days
        if days == 0:
            return None, clock
        if days == 1:
            return "tomorrow", clock
        if days == -1:
            return "yesterday", clock
        day = f"{_WEEKDAYS[at.weekday()]} {at.day} {_MONTHS[at.month - 1]}"
        if at.year != today.year:
            day += f" {at.year}"
        return day, clock

    def when(self, dt: datetime) -> str:
        """ "5:30 PM", "tomorrow 9:00 AM", "Fri 23 Nov 9:00 AM"."""
        day, clock = self.day_and_clock(dt)
        return f"{day} {clock}" if day else clock

    def until(self, dt: datetime) -> str:
        """ "until 5:30 PM", "until tomorrow 9:00 AM"; an end at local midnight in words, as people say
        it: "until the end of today", "until the end of tomorrow", "until Mon 7 Dec" (its start)."""
        at = local(dt, self.time_zone)
        if (at.hour, at.minute, at.second) == (0, 0, 0):
            today = local(self.now, self.time_zone).date()
            days = (at.date() - today).days
            if days == 1:
                return "until the end of today"
            if days == 2:
                return "until the end of tomorrow"
            if days > 2:
                return f"until {self.day_and_clock(dt)[0]}"
        return f"until {self.when(dt)}"

    def at(self, dt: datetime) -> str:
        """ "at 5:30 PM", "tomorrow at 9:00 AM", "on Fri 23 Nov at 9:00 AM"."""
        day, clock = self.day_and_clock(dt)
        if day is None:
            return f"at {clock}"
        if day in {"tomorrow", "yesterday"}:
            return f"{day} at {clock}"
        return f"on {day} at {clock}"


def is_open_ended(dt: datetime) -> bool:
    """Graph writes "no expiry" as a date in year 9999; showing it (or shifting it a zone east) is
    meaningless or overflows."""
    return dt.year >= 9999
