"""Colleagues: the people a user asks about (`/who @Megan`) or watches (`/watch @Megan`), and when a watch
is met. Plain data and pure rules; reading presences, rosters and storing watches live in the layers above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.core.users import UserRef

# getPresencesByUserId takes at most this many ids a call (docs/graph-facts.md §2).
PRESENCES_PER_CALL = 650


@dataclass(frozen=True)
class Colleague:
    """Someone named in a chat, by a mention or the conversation's roster.

    `aad_id` is the Entra object id Graph wants; `channel_id` is Teams' "29:…" id; `upn` (or email) is
    what Teams' chat deep link takes.
    """

    aad_id: str
    name: str
    tenant_id: str | None = None
    upn: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class Mention:
    """A person mentioned in a message, as the activity's mention entity names them."""

    channel_id: str  # "29:…" (Teams) or whatever id the channel uses
    name: str
    aad_id: str | None = None  # Teams puts it in some mention entities; the roster has it otherwise


@dataclass(frozen=True)
class RosterPage:
    """At most `limit` members of a conversation, and whether there were more."""

    members: tuple[Colleague, ...]
    total: int | None  # how many members the conversation has, when the roster was read to its end
    more: bool  # the roster has members past `members`


class WatchCapReached(Exception):
    """The watcher already has `cap` active watches; a new one (not an extension) is refused.

    Part of the watch store's port (`bot.colleagues.ports.WatchStore`); declared here, below both the
    port and the store that raises it."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"at most {cap} active watches per user")
        self.cap = cap


class RosterError(Exception):
    """The conversation's roster could not be read (the channel refused, timed out or is unreachable)."""


class Directory(Protocol):
    """Who is in the conversation a message came from (Teams' roster), read on demand."""

    async def member(self, channel_id: str) -> Colleague | None:
        """The member with this channel id ("29:…"), or None when the conversation has no such member."""
        ...

    async def members(self, limit: int) -> RosterPage:
        """Up to `limit` members, read page by page; raises `RosterError` when the roster cannot be read."""
        ...


class WatchKind(StrEnum):
    FREE = "free"  # becomes Available (from anything else)
    BACK = "back"  # no longer Away, Be right back, Offline or out of office


class WatchEnd(StrEnum):
    FIRED = "fired"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Watch:
    """One user waiting to hear when a colleague is free (or back)."""

    id: int
    watcher: UserRef  # who asked (their tenant is the watch's tenant)
    target: Colleague
    kind: WatchKind
    conversation_id: str | None  # where the watcher asked: the notice goes there
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None
    end_reason: WatchEnd | None = None


def is_free(availability: str, activity: str = "", out_of_office: bool = False) -> bool:
    """Teams shows the person as Available (idle counts: Teams shows them available), and they are not
    out of office (automatic replies on: Available on a phone is not free to talk)."""
    if out_of_office or activity.lower() == "outofoffice":
        return False
    return availability.lower() in {"available", "availableidle"}


def is_back(availability: str, activity: str, out_of_office: bool) -> bool:
    """Neither Away, Be right back, Offline nor out of office: at their desk in some state."""
    if out_of_office or activity.lower() == "outofoffice":
        return False
    return availability.lower() not in {"away", "berightback", "offline", "presenceunknown", ""}


def watch_met(kind: WatchKind, availability: str, activity: str, out_of_office: bool) -> bool:
    """The watched person is now what the watcher waits for."""
    if kind is WatchKind.FREE:
        return is_free(availability, activity, out_of_office)
    return is_back(availability, activity, out_of_office)
