"""IANA time zones: the one check that a name is a zone, and times shown in a user's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The longest IANA name is 32 characters ("America/Argentina/ComodRivadavia"); anything much longer is
# not a zone, and is refused before zoneinfo searches the disk for it.
MAX_ZONE_NAME = 64


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_info(name: object) -> ZoneInfo | None:
    """The `ZoneInfo` an IANA name (surrounding spaces allowed) stands for; None if it is not one."""
    if not isinstance(name, str):
        return None
    name = name.strip()
    if not name or len(name) > MAX_ZONE_NAME or "\x00" in name:
        return None
    return _zone(name)


def valid_zone(name: object) -> str | None:
    """`name` stripped if it is an IANA zone, else None."""
    return name.strip() if isinstance(name, str) and zone_info(name) is not None else None


def local(dt: datetime, tz_name: str) -> datetime:
    """`dt` in the user's zone (UTC for a name that is not a zone)."""
    return dt.astimezone(zone_info(tz_name) or UTC)
