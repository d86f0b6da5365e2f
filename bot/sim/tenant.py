"""The simulated tenant: users, their presence sessions, preferred presence and status message, and
Graph's rules for them (docs/graph-facts.md §1–§3). No HTTP here: `bot.sim.routes` puts Graph's API
in front of it.

Everything time-dependent (session expiry, the fade of an idle Available session, preferred presence and
status message expiry) is evaluated lazily from the injected `Clock` whenever a user is read, so moving an
`AdjustableClock` forward is seen at once and no background task is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bot.clock import AdjustableClock, Clock
from bot.core.files import write_atomically
from bot.core.states import (
    AVAILABLE_AWAY,
    AVAILABLE_FADE,
    PREFERRED_MAX,
    PREFERRED_MIN,
    PREFERRED_PAIRS,
    SESSION_GRAPH_DEFAULT,
    SESSION_MAX,
    SESSION_MIN,
    SESSION_PAIRS,
    SESSION_RANK,
    STATUS_MESSAGE_MAX,
    Pair,
    preferred_default_expiry,
)
from bot.graph.models import DateTimeTimeZone, ItemBody, OutOfOfficeSettings, Presence, StatusMessage
from bot.sim.errors import SimGraphError, bad_request, invalid_argument, not_found
from bot.sim.timezones import resolve_zone

__all__ = ["CLIENT_PAIRS", "SimGraphError", "SimTenant", "parse_iso_duration", "user_key"]

log = logging.getLogger(__name__)

# What a simulated Teams client may report: the pairs an app may set, plus the ones only Teams itself
# derives (a calendar meeting, its own Busy and Do not disturb). Be right back and Appear offline are
# user choices, i.e. preferred presence, not client states.
CLIENT_PAIRS: frozenset[Pair] = SESSION_PAIRS | {
    Pair("Busy", "Busy"),
    Pair("Busy", "InAMeeting"),
    Pair("DoNotDisturb", "DoNotDisturb"),
}

OFFLINE = Pair("Offline", "Offline")
_AVAILABLE = "Available"
_INACTIVE = Pair("Available", "AvailableInactive")
_FADED_AWAY = Pair("Away", "Away")
_STATE_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The OpenAPI pattern for Edm.Duration: -?P[nD][T[nH][nM][n[.n]S]]
_DURATION = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_OUT_OF_RANGE = "The provided [ExpirationDuration] is out of range."


def user_key(user_id: str) -> str:
    """How the tenant keys a user: any opaque id as given; GUIDs case-insensitively (lowercased)."""
    if not user_id:
        raise bad_request("The user id is empty.")
    return user_id.lower() if _GUID.fullmatch(user_id) else user_id


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


# -- state --------------------------------------------------------------------------------------------
@dataclass
class ClientSession:
    """A signed-in Teams client: kept alive by the client itself, so it neither fades nor expires."""

    client_id: str
    availability: str
    activity: str
    updated_at: datetime


@dataclass
class AppSession:
    """An application's presence session (setPresence), keyed by the app's id."""

    app_id: str
    availability: str
    activity: str
    expires_at: datetime
    last_refreshed_at: datetime


@dataclass
class PreferredPresence:
    availability: str
    activity: str
    expires_at: datetime


@dataclass
class StoredStatusMessage:
    content: str
    published_at: datetime
    expires_at: datetime | None
    expiry_time_zone: str  # as the writer named it, so a read answers in the same zone


@dataclass
class SimUser:
    user_id: str
    changed_at: datetime  # latest change to anything the presence is computed from (sequenceNumber)
    clients: dict[str, ClientSession] = field(default_factory=dict)
    apps: dict[str, AppSession] = field(default_factory=dict)  # key: app id, lowercased
    preferred: PreferredPresence | None = None
    status: StoredStatusMessage | None = None
    next_client: int = 1

    @classmethod
    def new(cls, user_id: str, now: datetime) -> SimUser:
        user = cls(user_id=user_id, changed_at=now)
        user.add_client(Pair("Available", "Available"), now)
        return user

    def add_client(self, pair: Pair, now: datetime) -> str:
        client_id = f"teams-client-{self.next_client}"
        self.next_client += 1
        self.clients[client_id] = ClientSession(client_id, pair.availability, pair.activity, now)
        return client_id


@dataclass(frozen=True)
class SessionView:
    """A live session as aggregation sees it: its effective state now, fade applied."""

    session_id: str
    kind: Literal["client", "app"]
    availability: str
    activity: str
    expires_at: datetime | None
    updated_at: datetime  # last set or refreshed: the tie-breaker ("most recent wins")

    def rank_key(self) -> tuple[int, datetime, int]:
        return (SESSION_RANK.get(self.availability.lower(), 1), self.updated_at, self.kind == "app")


def _effective(session: AppSession, now: datetime) -> Pair:
    """Available fades to AvailableInactive 5 min, then Away 10 min, after the last refresh.

    docs/graph-facts.md §3.
    """
    if session.availability == _AVAILABLE:
        idle = now - session.last_refreshed_at
        if idle >= AVAILABLE_AWAY:
            return _FADED_AWAY
        if idle >= AVAILABLE_FADE:
            return _INACTIVE
    return Pair(session.availability, session.activity)


# -- rules for inputs --------------------------------------------------------------------------------
def _pair_table(pairs: Iterable[Pair]) -> dict[tuple[str, str], Pair]:
    return {(p.availability.lower(), p.activity.lower()): p for p in pairs}


_SESSION_TABLE = _pair_table(SESSION_PAIRS)
_PREFERRED_TABLE = _pair_table(PREFERRED_PAIRS)
_CLIENT_TABLE = _pair_table(CLIENT_PAIRS)


def _pair(
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


def _duration(text: str | None, default: timedelta, low: timedelta, high: timedelta) -> timedelta:
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


def _check_session_id(session_id: str | None, caller_app_id: str) -> str:
    if session_id is None or not session_id.strip():
        raise bad_request("SessionId field is required.")
    if session_id.strip().lower() != caller_app_id.lower():
        raise invalid_argument(
            f"The provided [SessionId] '{session_id}' is not the calling application's id: "
            "an application may only set and clear its own presence session."
        )
    return caller_app_id.lower()


def _parse_wall_time(text: str) -> datetime | None:
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


def _graph_date_time(moment: datetime) -> str:
    """Graph's `dateTimeTimeZone.dateTime` text: wall time, 7 fractional digits, no offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond:06d}0"


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the inspection routes show times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _published(moment: datetime) -> str:
    """`publishedDateTime`: UTC with 7 fractional digits and `Z`, as Graph writes it."""
    return _graph_date_time(moment.astimezone(UTC)) + "Z"


# -- persistence ---------------------------------------------------------------------------------
def _dt(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"naive time in the state file: {text!r}")
    return value.astimezone(UTC)


def _opt_dt(text: Any) -> datetime | None:
    return None if text is None else _dt(text)


def _user_to_json(user: SimUser) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "changedAt": user.changed_at.isoformat(),
        "nextClient": user.next_client,
        "clients": {
            c.client_id: {
                "availability": c.availability,
                "activity": c.activity,
                "updatedAt": c.updated_at.isoformat(),
            }
            for c in user.clients.values()
        },
        "apps": {
            key: {
                "appId": a.app_id,
                "availability": a.availability,
                "activity": a.activity,
                "expiresAt": a.expires_at.isoformat(),
                "lastRefreshedAt": a.last_refreshed_at.isoformat(),
            }
            for key, a in user.apps.items()
        },
        "preferred": None
        if user.preferred is None
        else {
            "availability": user.preferred.availability,
            "activity": user.preferred.activity,
            "expiresAt": user.preferred.expires_at.isoformat(),
        },
        "statusMessage": None
        if user.status is None
        else {
            "content": user.status.content,
            "publishedAt": user.status.published_at.isoformat(),
            "expiresAt": None if user.status.expires_at is None else user.status.expires_at.isoformat(),
            "expiryTimeZone": user.status.expiry_time_zone,
        },
    }


def _user_from_json(data: dict[str, Any]) -> SimUser:
    user = SimUser(
        user_id=str(data["id"]), changed_at=_dt(data["changedAt"]), next_client=int(data["nextClient"])
    )
    for client_id, c in data["clients"].items():
        user.clients[str(client_id)] = ClientSession(
            str(client_id), str(c["availability"]), str(c["activity"]), _dt(c["updatedAt"])
        )
    for key, a in data["apps"].items():
        user.apps[str(key)] = AppSession(
            str(a["appId"]),
            str(a["availability"]),
            str(a["activity"]),
            _dt(a["expiresAt"]),
            _dt(a["lastRefreshedAt"]),
        )
    if (p := data.get("preferred")) is not None:
        user.preferred = PreferredPresence(str(p["availability"]), str(p["activity"]), _dt(p["expiresAt"]))
    if (s := data.get("statusMessage")) is not None:
        user.status = StoredStatusMessage(
            str(s["content"]), _dt(s["publishedAt"]), _opt_dt(s["expiresAt"]), str(s["expiryTimeZone"])
        )
    return user


# -- the tenant --------------------------------------------------------------------------------------
class SimTenant:
    """One simulated tenant: its users' presence state and Graph's presence rules.

    Users are created on first reference, by any opaque id, each with one Teams client session that
    reports Available/Available. With a `state_path`, the state (and an `AdjustableClock`'s offset) is
    written atomically after every change, and read back when a tenant is created on the same file.
    """

    def __init__(self, clock: Clock, state_path: Path | None) -> None:
        self._clock = clock
        self._path = state_path
        self._users: dict[str, SimUser] = {}
        self._save_lock = asyncio.Lock()
        self._changes = 0  # bumped by every save request
        self._saved = 0  # the change count the last completed write covered
        # Each user's serialized state, kept between saves: a save re-serializes only the users that
        # changed since the last one (`_dirty`), so writing the file stays cheap with many users.
        self._texts: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._load()

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def state_path(self) -> Path | None:
        return self._path

    def user_ids(self) -> list[str]:
        """Every user the tenant has met, in the order it met them."""
        return list(self._users)

    # -- Graph reads -----------------------------------------------------------------------------
    async def get_presence(self, user_id: str) -> dict[str, Any]:
        """GET /users/{id}/presence: Graph's presence body for `user_id`."""
        return (await self.get_presences([user_id]))[0]

    async def get_presences(self, user_ids: Sequence[str]) -> list[dict[str, Any]]:
        """getPresencesByUserId: one presence body per distinct id, in the order asked."""
        now = self._now()
        created = False
        bodies: list[dict[str, Any]] = []
        seen: set[str] = set()
        for user_id in user_ids:
            user, new = self._user(user_id, now)
            created |= new
            if user.user_id in seen:
                continue
            seen.add(user.user_id)
            bodies.append(self._presence(user, now))
        if created:
            await self._save_quietly()
        return bodies

    # -- Graph writes ----------------------------------------------------------------------------
    async def set_presence(
        self,
        user_id: str,
        caller_app_id: str,
        session_id: str | None,
        availability: str | None,
        activity: str | None,
        expiration_duration: str | None = None,
    ) -> None:
        """setPresence: create or refresh the caller's session for the user (docs/graph-facts.md §2)."""
        key = _check_session_id(session_id, caller_app_id)
        pair = _pair(availability, activity, _SESSION_TABLE, "setPresence")
        duration = _duration(expiration_duration, SESSION_GRAPH_DEFAULT, SESSION_MIN, SESSION_MAX)
        now = self._now()
        user = self._changing(user_id, now)
        user.apps[key] = AppSession(caller_app_id, pair.availability, pair.activity, now + duration, now)
        log.debug(
            "setPresence %s/%s for %s by %s until %s", *pair, user.user_id, caller_app_id, now + duration
        )
        await self.save()

    async def clear_presence(self, user_id: str, caller_app_id: str, session_id: str | None) -> None:
        """clearPresence: end the caller's session; 404 when it has none (docs/graph-facts.md §2)."""
        key = _check_session_id(session_id, caller_app_id)
        now = self._now()
        user, created = self._user(user_id, now)
        self._prune(user, now)
        if key not in user.apps:
            if created:
                await self._save_quietly()
            raise not_found("The application has no presence session for this user.")
        self._touch(user, now)
        del user.apps[key]
        await self.save()

    async def set_preferred_presence(
        self,
        user_id: str,
        availability: str | None,
        activity: str | None,
        expiration_duration: str | None = None,
    ) -> None:
        """setUserPreferredPresence: what the Teams status picker sets; wins over every session."""
        pair = _pair(availability, activity, _PREFERRED_TABLE, "setUserPreferredPresence")
        default = preferred_default_expiry(pair.availability)
        duration = _duration(expiration_duration, default, PREFERRED_MIN, PREFERRED_MAX)
        now = self._now()
        user = self._changing(user_id, now)
        user.preferred = PreferredPresence(pair.availability, pair.activity, now + duration)
        await self.save()

    async def clear_preferred_presence(self, user_id: str) -> None:
        """clearUserPreferredPresence: succeeds whether or not a preference was set."""
        now = self._now()
        user = self._changing(user_id, now)
        user.preferred = None
        await self.save()

    async def set_status_message(
        self,
        user_id: str,
        content: str | None,
        content_type: str | None = "text",
        expiry: DateTimeTimeZone | None = None,
    ) -> None:
        """setStatusMessage: text only, at most 280 characters; empty content clears.

        docs/graph-facts.md §2.
        """
        text = content or ""
        if content_type is not None and content_type.strip().lower() != "text":
            raise invalid_argument(
                "Only text status messages are supported: message.contentType must be 'text'."
            )
        if len(text) > STATUS_MESSAGE_MAX:
            raise invalid_argument(
                f"The status message is {len(text)} characters long; "
                f"at most {STATUS_MESSAGE_MAX} are allowed."
            )
        now = self._now()
        status: StoredStatusMessage | None = None
        if text.strip():
            expires_at, zone_name = self._expiry(expiry, now) if expiry is not None else (None, "UTC")
            status = StoredStatusMessage(text, now, expires_at, zone_name)
        user = self._changing(user_id, now)
        user.status = status
        await self.save()

    # -- inspection and simulated Teams clients --------------------------------------------------
    async def describe(self, user_id: str) -> dict[str, Any]:
        """What the simulator knows about a user: the presence Graph returns, and why."""
        now = self._now()
        user, created = self._user(user_id, now)
        presence = self._presence(user, now)
        preferred = user.preferred
        description = {
            "presence": presence,
            "sessions": [
                {
                    "sessionId": view.session_id,
                    "kind": view.kind,
                    "availability": view.availability,
                    "activity": view.activity,
                    "expiresAt": iso_utc(view.expires_at),
                    "updatedAt": iso_utc(view.updated_at),
                }
                for view in self._sessions(user, now)
            ],
            "preferred": None
            if preferred is None
            else {
                "availability": preferred.availability,
                "activity": preferred.activity,
                "expiresAt": iso_utc(preferred.expires_at),
            },
            "statusMessage": presence["statusMessage"],
        }
        if created:
            await self._save_quietly()
        return description

    async def add_client(self, user_id: str, availability: str | None, activity: str | None) -> str:
        """Sign a simulated Teams client in for the user; returns its session id."""
        pair = _pair(availability, activity, _CLIENT_TABLE, "a Teams client")
        now = self._now()
        user = self._changing(user_id, now)
        client_id = user.add_client(pair, now)
        await self.save()
        return client_id

    async def remove_client(self, user_id: str, client_id: str) -> None:
        """Sign a simulated Teams client out; 404 when the user has no such client."""
        now = self._now()
        user, _ = self._user(user_id, now)
        if client_id not in user.clients:
            raise not_found(f"The user has no Teams client session '{client_id}'.")
        self._touch(user, now)
        del user.clients[client_id]
        await self.save()

    # -- persistence -------------------------------------------------------------------------------
    async def save(self) -> None:
        """Write the state file; returns once a write covering every change made so far is on disk.

        Concurrent callers share writes: whoever finds a write in progress waits for it, and one later
        write covers all of them. Serialising happens on the event loop (a consistent snapshot); the
        file work runs in a thread. Also the hook to call after moving an `AdjustableClock`.
        """
        if self._path is None:
            return
        self._changes += 1
        wanted = self._changes
        async with self._save_lock:
            if self._saved >= wanted:
                return
            covered = self._changes
            text = self._snapshot_text()
            try:
                # private: the state file stays 0600, as it always was
                await asyncio.to_thread(write_atomically, self._path, text.encode(), private=True)
            except OSError as exc:
                log.error("could not write the simulated tenant's state to %s: %s", self._path, exc)
                raise SimGraphError(
                    503, "ServiceUnavailable", "The simulated tenant could not save its state; try again."
                ) from exc
            self._saved = covered

    async def _save_quietly(self) -> None:
        """Save after a read that created a user: a failed write must not fail the read."""
        with contextlib.suppress(SimGraphError):
            await self.save()

    def _snapshot_text(self) -> str:
        """The state file's text: `{"version", "clockOffsetSeconds"?, "users": {id: user}}`."""
        for key in self._dirty:
            user = self._users.get(key)
            if user is None:
                self._texts.pop(key, None)
            else:
                self._texts[key] = json.dumps(_user_to_json(user), sort_keys=True)
        self._dirty.clear()
        head: dict[str, Any] = {"version": _STATE_VERSION}
        if isinstance(self._clock, AdjustableClock):
            head["clockOffsetSeconds"] = self._clock.offset.total_seconds()
        users = ",".join(f"{json.dumps(key)}:{self._texts[key]}" for key in self._users)
        return f'{json.dumps(head)[:-1]},"users":{{{users}}}}}'

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            if data.get("version") != _STATE_VERSION:
                raise ValueError(f"unknown state version {data.get('version')!r}")
            users = {str(key): _user_from_json(value) for key, value in data["users"].items()}
            offset = float(data.get("clockOffsetSeconds", 0.0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self._path.with_name(f"{self._path.name}.unreadable-{self._now():%Y%m%dT%H%M%S}")
            log.error(
                "the simulated tenant's state %s is unreadable (%s); moved to %s, starting empty",
                self._path,
                exc,
                aside,
            )
            with contextlib.suppress(OSError):
                self._path.replace(aside)
            return
        self._users = users
        self._dirty.update(users)
        if isinstance(self._clock, AdjustableClock) and offset > 0:
            self._clock.set_offset(timedelta(seconds=offset))
        log.info("simulated tenant: %d users loaded from %s", len(users), self._path)

    # -- internals ------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._clock.now().astimezone(UTC)

    def _user(self, user_id: str, now: datetime) -> tuple[SimUser, bool]:
        key = user_key(user_id)
        user = self._users.get(key)
        if user is not None:
            return user, False
        user = SimUser.new(key, now)
        self._users[key] = user
        self._dirty.add(key)
        log.info("simulated user %s created, signed in on one Teams client (Available)", key)
        return user, True

    def _changing(self, user_id: str, now: datetime) -> SimUser:
        """The user, pruned and stamped, about to be changed."""
        user, _ = self._user(user_id, now)
        self._prune(user, now)
        self._touch(user, now)
        return user

    def _prune(self, user: SimUser, now: datetime) -> None:
        """Drop what has expired, remembering when (it changed the presence then)."""
        expired = False
        for key, session in list(user.apps.items()):
            if session.expires_at <= now:
                del user.apps[key]
                user.changed_at = max(user.changed_at, session.expires_at)
                expired = True
        if user.preferred is not None and user.preferred.expires_at <= now:
            user.changed_at = max(user.changed_at, user.preferred.expires_at)
            user.preferred = None
            expired = True
        status = user.status
        if status is not None and status.expires_at is not None and status.expires_at <= now:
            user.changed_at = max(user.changed_at, status.expires_at)
            user.status = None
            expired = True
        if expired:
            self._dirty.add(user.user_id)

    def _version(self, user: SimUser, now: datetime) -> datetime:
        """The latest moment the user's presence inputs changed, fades that have happened included."""
        latest = user.changed_at
        for session in user.apps.values():
            if session.availability == _AVAILABLE:
                for step in (AVAILABLE_FADE, AVAILABLE_AWAY):
                    moment = session.last_refreshed_at + step
                    if moment <= now:
                        latest = max(latest, moment)
        return latest

    def _touch(self, user: SimUser, now: datetime) -> None:
        """Stamp a change: strictly later than any version a reader may already have seen."""
        user.changed_at = max(now, self._version(user, now) + _MICROSECOND)
        self._dirty.add(user.user_id)

    def _sessions(self, user: SimUser, now: datetime) -> list[SessionView]:
        """Live sessions, effective state now, the winner first."""
        views = [
            SessionView(c.client_id, "client", c.availability, c.activity, None, c.updated_at)
            for c in user.clients.values()
        ]
        for session in user.apps.values():
            if session.expires_at <= now:
                continue
            pair = _effective(session, now)
            views.append(
                SessionView(
                    session.app_id,
                    "app",
                    pair.availability,
                    pair.activity,
                    session.expires_at,
                    session.last_refreshed_at,
                )
            )
        views.sort(key=SessionView.rank_key, reverse=True)
        return views

    def _shown(self, user: SimUser, now: datetime) -> Pair:
        """Preferred presence wins while a session is live; else the best session; else Offline.

        docs/graph-facts.md §3.
        """
        sessions = self._sessions(user, now)
        if not sessions:
            return OFFLINE
        if user.preferred is not None:
            return Pair(user.preferred.availability, user.preferred.activity)
        return Pair(sessions[0].availability, sessions[0].activity)

    def _presence(self, user: SimUser, now: datetime) -> dict[str, Any]:
        self._prune(user, now)
        pair = self._shown(user, now)
        presence = Presence(
            id=user.user_id,
            availability=pair.availability,
            activity=pair.activity,
            status_message=self._status_message(user.status),
            out_of_office_settings=OutOfOfficeSettings(is_out_of_office=False, message=None),
            sequence_number=f"{(self._version(user, now) - _EPOCH) // _MICROSECOND:016X}",
        )
        return presence.model_dump(by_alias=True, mode="json")

    @staticmethod
    def _status_message(status: StoredStatusMessage | None) -> StatusMessage | None:
        if status is None:
            return None
        expiry: DateTimeTimeZone | None = None
        if status.expires_at is not None:
            zone = resolve_zone(status.expiry_time_zone) or UTC
            expiry = DateTimeTimeZone(
                date_time=_graph_date_time(status.expires_at.astimezone(zone)),
                time_zone=status.expiry_time_zone,
            )
        return StatusMessage(
            message=ItemBody(content=status.content, content_type="text"),
            expiry_date_time=expiry,
            published_date_time=_published(status.published_at),
        )

    @staticmethod
    def _expiry(expiry: DateTimeTimeZone, now: datetime) -> tuple[datetime, str]:
        """The instant a status message's `expiryDateTime` names, and the zone name to answer in."""
        zone = resolve_zone(expiry.time_zone)
        if zone is None:
            raise invalid_argument(
                f"The time zone '{expiry.time_zone}' is not supported: use UTC, an IANA name "
                "(Europe/Berlin) or a Windows name (W. Europe Standard Time)."
            )
        wall = _parse_wall_time(expiry.date_time)
        if wall is None:
            raise bad_request(
                f"expiryDateTime.dateTime '{expiry.date_time}' is not a date and time (2026-11-22T17:05:00)."
            )
        zone_name = (expiry.time_zone or "UTC").strip() or "UTC"
        if wall.tzinfo is not None:  # an explicit offset wins; answer in UTC
            instant, zone_name = wall.astimezone(UTC), "UTC"
        else:
            instant = wall.replace(tzinfo=zone).astimezone(UTC)
        if instant <= now:
            raise invalid_argument("The status message's expiryDateTime is in the past.")
        return instant, zone_name
