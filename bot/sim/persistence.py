"""The simulated tenant's state file: each user as JSON (`_user_to_json`, `_user_from_json`), and
`TenantState`, which holds the users and writes them atomically after every change (read back when a
tenant is created on the same file). `SimTenant` adds Graph's rules on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import AdjustableClock, Clock
from bot.core.files import write_atomically
from bot.sim.errors import SimGraphError
from bot.sim.model import (
    AppSession,
    ClientSession,
    OutOfOffice,
    PreferredPresence,
    SimUser,
    StoredStatusMessage,
)

__all__ = ["TenantState"]

log = logging.getLogger(__name__)

_STATE_VERSION = 1


# -- each user as JSON --------------------------------------------------------------------------
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
        "outOfOffice": None
        if user.out_of_office is None
        else {"message": user.out_of_office.message, "since": user.out_of_office.since.isoformat()},
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
    if (o := data.get("outOfOffice")) is not None:  # absent from files written before it existed
        message = o["message"]
        user.out_of_office = OutOfOffice(None if message is None else str(message), _dt(o["since"]))
    return user


# -- the state and its file ------------------------------------------------------------------------
class TenantState:
    """A simulated tenant's users, in memory and, with a `state_path`, in a JSON file.

    With a `state_path`, the state (and an `AdjustableClock`'s offset) is written atomically after every
    change, and read back when a tenant is created on the same file.
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

    def _now(self) -> datetime:
        return self._clock.now().astimezone(UTC)
