"""The simulated tenant: users, their presence sessions, preferred presence, status message and
out-of-office message, and Graph's rules for them (docs/graph-facts.md §1–§3). No HTTP here:
`bot.sim.routes` puts Graph's API in front of it. The state as data is in `bot.sim.model`, its file in
`bot.sim.persistence`, the checks on what callers send in `bot.sim.inputs` and `bot.sim.times`.

Everything time-dependent (session expiry, the fade of an idle Available session, preferred presence and
status message expiry) is evaluated lazily from the injected `Clock` whenever a user is read, so moving an
`AdjustableClock` forward is seen at once and no background task is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.core.states import (
    AVAILABLE_AWAY,
    AVAILABLE_FADE,
    PREFERRED_MAX,
    PREFERRED_MIN,
    SESSION_GRAPH_DEFAULT,
    SESSION_MAX,
    SESSION_MIN,
    STATUS_MESSAGE_MAX,
    Pair,
    preferred_default_expiry,
)
from bot.graph.models import DateTimeTimeZone, ItemBody, OutOfOfficeSettings, Presence, StatusMessage
from bot.sim.errors import SimGraphError, bad_request, invalid_argument, not_found
from bot.sim.inputs import (
    CLIENT_PAIRS,
    CLIENT_TABLE,
    PREFERRED_TABLE,
    SESSION_TABLE,
    check_duration,
    check_pair,
    check_session_id,
    user_key,
)
from bot.sim.model import (
    AppSession,
    OutOfOffice,
    PreferredPresence,
    SessionView,
    SimUser,
    StoredStatusMessage,
)
from bot.sim.persistence import TenantState
from bot.sim.times import graph_date_time, iso_utc, parse_iso_duration, parse_wall_time, published_text
from bot.sim.timezones import resolve_zone

__all__ = ["CLIENT_PAIRS", "SimGraphError", "SimTenant", "parse_iso_duration", "user_key"]

log = logging.getLogger(__name__)

OFFLINE = Pair("Offline", "Offline")
_AVAILABLE = "Available"
_INACTIVE = Pair("Available", "AvailableInactive")
_FADED_AWAY = Pair("Away", "Away")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Out of office shows as the activity OutOfOffice, whatever the availability, except while the person is
# busy (a call, a meeting, presenting, focusing): that keeps its own activity (docs/simulator.md, §1).
_BUSY = frozenset({"busy", "busyidle", "donotdisturb"})
_OUT_OF_OFFICE = "OutOfOffice"
_MICROSECOND = timedelta(microseconds=1)


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


# -- the tenant --------------------------------------------------------------------------------------
class SimTenant(TenantState):
    """One simulated tenant: its users' presence state and Graph's presence rules.

    Users are created on first reference, by any opaque id, each with one Teams client session that
    reports Available/Available. With a `state_path`, the state (and an `AdjustableClock`'s offset) is
    written atomically after every change, and read back when a tenant is created on the same file.
    """

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
        key = check_session_id(session_id, caller_app_id)
        pair = check_pair(availability, activity, SESSION_TABLE, "setPresence")
        duration = check_duration(expiration_duration, SESSION_GRAPH_DEFAULT, SESSION_MIN, SESSION_MAX)
        now = self._now()
        user = self._changing(user_id, now)
        user.apps[key] = AppSession(caller_app_id, pair.availability, pair.activity, now + duration, now)
        log.debug(
            "setPresence %s/%s for %s by %s until %s", *pair, user.user_id, caller_app_id, now + duration
        )
        await self.save()

    async def clear_presence(self, user_id: str, caller_app_id: str, session_id: str | None) -> None:
        """clearPresence: end the caller's session; 404 when it has none (docs/graph-facts.md §2)."""
        key = check_session_id(session_id, caller_app_id)
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
        pair = check_pair(availability, activity, PREFERRED_TABLE, "setUserPreferredPresence")
        default = preferred_default_expiry(pair.availability)
        duration = check_duration(expiration_duration, default, PREFERRED_MIN, PREFERRED_MAX)
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

    # -- what people do in Teams and Outlook (the control routes) ---------------------------------
    async def set_out_of_office(self, user_id: str, message: str | None) -> None:
        """Turn the user's out of office on (automatic replies), with `message`; blank: no message."""
        now = self._now()
        user = self._changing(user_id, now)
        since = user.out_of_office.since if user.out_of_office is not None else now
        user.out_of_office = OutOfOffice(message if message and message.strip() else None, since)
        await self.save()

    async def clear_out_of_office(self, user_id: str) -> None:
        """Turn the user's out of office off; succeeds whether or not it was on."""
        now = self._now()
        user = self._changing(user_id, now)
        user.out_of_office = None
        await self.save()

    async def set_client(
        self, user_id: str, client_id: str, availability: str | None, activity: str | None
    ) -> None:
        """A signed-in Teams client reports another state (a meeting starts, a call ends); 404 when the
        user has no such client."""
        pair = check_pair(availability, activity, CLIENT_TABLE, "a Teams client")
        now = self._now()
        user, _ = self._user(user_id, now)
        client = user.clients.get(client_id)
        if client is None:
            raise not_found(f"The user has no Teams client session '{client_id}'.")
        self._touch(user, now)
        client.availability, client.activity, client.updated_at = pair.availability, pair.activity, now
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
            "outOfOffice": None
            if user.out_of_office is None
            else {"message": user.out_of_office.message, "since": iso_utc(user.out_of_office.since)},
        }
        if created:
            await self._save_quietly()
        return description

    async def add_client(self, user_id: str, availability: str | None, activity: str | None) -> str:
        """Sign a simulated Teams client in for the user; returns its session id."""
        pair = check_pair(availability, activity, CLIENT_TABLE, "a Teams client")
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

    # -- internals ------------------------------------------------------------------------------
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
        """What a read answers for the user: single and bulk reads alike."""
        self._prune(user, now)
        pair = self._shown(user, now)
        away = user.out_of_office
        if away is not None and pair.availability.lower() not in _BUSY:
            pair = Pair(pair.availability, _OUT_OF_OFFICE)
        presence = Presence(
            id=user.user_id,
            availability=pair.availability,
            activity=pair.activity,
            status_message=self._status_message(user.status),
            out_of_office_settings=OutOfOfficeSettings(
                is_out_of_office=away is not None, message=away.message if away is not None else None
            ),
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
                date_time=graph_date_time(status.expires_at.astimezone(zone)),
                time_zone=status.expiry_time_zone,
            )
        return StatusMessage(
            message=ItemBody(content=status.content, content_type="text"),
            expiry_date_time=expiry,
            published_date_time=published_text(status.published_at),
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
        wall = parse_wall_time(expiry.date_time)
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
