"""The simulated tenant's state, as plain data: a user (`SimUser`) with their Teams client sessions,
application presence sessions, preferred presence, status message and out-of-office message; and a live
session as aggregation sees it (`SessionView`). The rules that act on it are in `bot.sim.tenant`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.core.states import SESSION_RANK, Pair

__all__ = [
    "AppSession",
    "ClientSession",
    "OutOfOffice",
    "PreferredPresence",
    "SessionView",
    "SimUser",
    "StoredStatusMessage",
]


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
class OutOfOffice:
    """Out of office (automatic replies on): the stand-in for the calendar and Outlook, set by hand."""

    message: str | None  # the automatic reply; None: out of office without one
    since: datetime


@dataclass
class SimUser:
    user_id: str
    changed_at: datetime  # latest change to anything the presence is computed from (sequenceNumber)
    clients: dict[str, ClientSession] = field(default_factory=dict)
    apps: dict[str, AppSession] = field(default_factory=dict)  # key: app id, lowercased
    preferred: PreferredPresence | None = None
    status: StoredStatusMessage | None = None
    out_of_office: OutOfOffice | None = None
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
