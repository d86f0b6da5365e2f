"""Graph's rules for what callers send: user ids, the availability/activity pairs each operation
accepts, expiration durations and their ranges, and session ids (docs/graph-facts.md §2).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bot.core.states import PREFERRED_PAIRS, SESSION_PAIRS, Pair
from bot.core.tenants import GUID
from bot.sim.errors import bad_request, invalid_argument
from bot.sim.times import parse_iso_duration

__all__ = [
    "CLIENT_PAIRS",
    "CLIENT_TABLE",
    "PREFERRED_TABLE",
    "SESSION_TABLE",
    "check_duration",
    "check_pair",
    "check_session_id",
    "user_key",
]

# What a simulated Teams client may report: the pairs an app may set, plus the ones only Teams itself
# derives (a calendar meeting, its own Busy and Do not disturb). Be right back and Appear offline are
# user choices, i.e. preferred presence, not client states.
CLIENT_PAIRS: frozenset[Pair] = SESSION_PAIRS | {
    Pair("Busy", "Busy"),
    Pair("Busy", "InAMeeting"),
    Pair("DoNotDisturb", "DoNotDisturb"),
}

_OUT_OF_RANGE = "The provided [ExpirationDuration] is out of range."


def user_key(user_id: str) -> str:
    """How the tenant keys a user: any opaque id as given; GUIDs case-insensitively (lowercased)."""
    if not user_id:
        raise bad_request("The user id is empty.")
    return user_id.lower() if GUID.fullmatch(user_id) else user_id


# -- rules for inputs --------------------------------------------------------------------------------
def _pair_table(pairs: Iterable[Pair]) -> dict[tuple[str, str], Pair]:
    return {(p.availability.lower(), p.activity.lower()): p for p in pairs}


SESSION_TABLE = _pair_table(SESSION_PAIRS)
PREFERRED_TABLE = _pair_table(PREFERRED_PAIRS)
CLIENT_TABLE = _pair_table(CLIENT_PAIRS)


def check_pair(
    availability: str | None, activity: str | None, table: dict[tuple[str, str], Pair], what: str
) -> Pair:
    """The allowed pair, matched case-insensitively and returned in Graph's PascalCase."""
    if not availability:
        raise bad_request("Availability field is required.")
    if not activity:
        raise bad_request("Activity field is required.")
    pair = table.get((availability.strip().lower(), activity.strip().lower()))
    if pair is None:
        supported = ", ".join(sorted(f"{p.availability}/{p.activity}" for p in table.values()))
        raise invalid_argument(
            f"The availability/activity pair {availability}/{activity} is not supported for {what}. "
            f"Supported pairs: {supported}."
        )
    return pair


def check_duration(text: str | None, default: timedelta, low: timedelta, high: timedelta) -> timedelta:
    if text is None:
        return default
    value = parse_iso_duration(text)
    if value is None:
        raise bad_request(
            f"The provided [ExpirationDuration] '{text}' is not an ISO 8601 duration (for example PT30M)."
        )
    if not low <= value <= high:
        raise invalid_argument(_OUT_OF_RANGE)
    return value


def check_session_id(session_id: str | None, caller_app_id: str) -> str:
    if session_id is None or not session_id.strip():
        raise bad_request("SessionId field is required.")
    if session_id.strip().lower() != caller_app_id.lower():
        raise invalid_argument(
            f"The provided [SessionId] '{session_id}' is not the calling application's id: "
            "an application may only set and clear its own presence session."
        )
    return caller_app_id.lower()
