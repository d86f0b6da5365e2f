"""Times and durations in Graph's text forms: `Edm.Duration` (`PT5M`), `dateTimeTimeZone.dateTime`
(wall time, 7 fractional digits, no offset), `publishedDateTime`, and the inspection routes' UTC times.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["graph_date_time", "iso_utc", "parse_iso_duration", "parse_wall_time", "published_text"]

# The OpenAPI pattern for Edm.Duration: -?P[nD][T[nH][nM][n[.n]S]]
_DURATION = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def parse_iso_duration(text: str) -> timedelta | None:
    """An ISO 8601 duration in Graph's `Edm.Duration` form (`PT5M`, `P1DT2H`, `PT90.5S`), or None.

    Durations too large for `timedelta` come back as `timedelta.max` (they are out of every range).
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.group(i) for i in range(2, 6)):
        return None
    if match.group(0).endswith("T"):
        return None
    days, hours, minutes, seconds = (match.group(i) for i in range(2, 6))
    try:
        value = timedelta(
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds or 0),
        )
    except OverflowError:
        return timedelta.max
    return -value if match.group(1) else value


def parse_wall_time(text: str) -> datetime | None:
    """Graph's `dateTime` (no offset, up to 7 fractional digits); an offset or `Z`, if sent, is honoured."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    match = re.fullmatch(r"([^.]*)\.(\d+)(.*)", value)
    if match:  # Python reads at most 6 fractional digits
        value = f"{match.group(1)}.{match.group(2)[:6].ljust(6, '0')}{match.group(3)}"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def graph_date_time(moment: datetime) -> str:
    """Graph's `dateTimeTimeZone.dateTime` text: wall time, 7 fractional digits, no offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond:06d}0"


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the inspection routes show times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def published_text(moment: datetime) -> str:
    """`publishedDateTime`: UTC with 7 fractional digits and `Z`, as Graph writes it."""
    return graph_date_time(moment.astimezone(UTC)) + "Z"
