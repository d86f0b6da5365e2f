"""What the store hands out: frozen pydantic records, never ORM objects or rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from bot.core.users import UserRef


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class HoldStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"
    FAILED = "failed"


class UserSettings(Record):
    tenant_id: str | None
    user_id: str
    time_zone: str | None
    time_zone_explicit: bool = False
    notices_enabled: bool
    updated_at: datetime


class Hold(Record):
    """A state the bot keeps setting for a user until `requested_end` (Graph caps each session at 4h)."""

    id: int
    tenant_id: str | None
    user_id: str
    state: str
    layer: str
    availability: str
    activity: str
    requested_end: datetime | None
    created_at: datetime
    status: HoldStatus
    ended_at: datetime | None
    ended_reason: str | None
    last_refresh_at: datetime | None
    graph_expires_at: datetime | None
    conversation_id: str | None = None  # where it was set from: its notices go there

    @property
    def is_active(self) -> bool:
        return self.status is HoldStatus.ACTIVE


class ConversationReferenceRecord(Record):
    """A saved botbuilder `ConversationReference` (as a dict) for proactive messages."""

    tenant_id: str | None
    user_id: str
    conversation_id: str
    conversation_type: str | None
    reference: dict[str, Any]
    updated_at: datetime


class AuditEntry(Record):
    """One Graph write and how it went."""

    id: int
    at: datetime
    tenant_id: str | None
    user_id: str
    operation: str
    request: dict[str, Any] | None
    outcome: str
    status_code: int | None
    detail: str | None


class Timer(Record):
    """A durable timer as claimed (or read) from the store.

    `attempts` counts claims, so it is 1 on the first firing. `generation` changes each time the key
    is scheduled again.
    """

    id: int
    key: str
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    generation: int
    hold_id: int | None
    lease_owner: str | None
    lease_until: datetime | None
    attempts: int
    last_error: str | None
    created_at: datetime


class StoreCounts(Record):
    users: int
    holds: int
    active_holds: int
    timers: int
    conversation_references: int
    processed_activities: int
    audit_log: int
    watches: int
    active_watches: int  # not ended yet


def hold_timer_key(hold_id: int, purpose: str) -> str:
    """The conventional key of a hold's timer, e.g. `hold:42:refresh`."""
    return f"hold:{hold_id}:{purpose}"


class TimerKind(StrEnum):
    """What a hold's timer does when it fires."""

    REFRESH = "refresh"  # set the held state again before Graph lets it lapse
    END = "end"  # the requested end: let the state go and tell the user


# -- what one activity and one command write, each in one transaction --------------------------------
class SavedConversation(NamedTuple):
    """How to reach a user in a conversation (a serialized botbuilder `ConversationReference`)."""

    conversation_id: str
    conversation_type: str | None
    reference: dict[str, Any]


class TurnRecord(NamedTuple):
    """The bookkeeping of one activity (`Store.record_turn`): is its work still to do (not processed
    within the dedup window), and the sender's settings."""

    fresh: bool
    settings: UserSettings | None


class AuditRow(NamedTuple):
    """One Graph write to record: `outcome` is "ok" or Graph's error code. Never secrets."""

    operation: str
    outcome: str
    request: dict[str, Any] | None
    status_code: int | None
    detail: str | None = None


class TimerPlan(NamedTuple):
    """A timer of the hold being started; its key is `hold_timer_key(hold id, kind)`."""

    kind: TimerKind
    due_at: datetime
    payload: dict[str, Any]


class NewHold(NamedTuple):
    """A hold to start, replacing the user's active one (which ends as cancelled, with `reason`)."""

    state: str
    layer: str
    availability: str
    activity: str
    requested_end: datetime | None
    graph_expires_at: datetime | None
    timers: tuple[TimerPlan, ...]
    reason: str = "replaced by a newer command"
    conversation_id: str | None = None  # the conversation the command came from


@dataclass
class Effects:
    """Everything one command changes in the store, written together by `Store.commit`: the audit of
    its Graph writes, and the hold it starts (with its timers) or ends.

    A command's open unit (`bot.store.effects.collect`) yields one; the service hands it to whatever
    records into it: the Graph client as the call's audit sink (`record_write`), the hold keeper."""

    user: UserRef
    audit: list[AuditRow] = field(default_factory=list)
    new_hold: NewHold | None = None
    end_hold: tuple[HoldStatus, str] | None = None  # end the active hold without a successor
    activity_key: str | None = None  # the activity whose work this is: marked processed with it
    conversation_id: str | None = None  # where the command came from: a hold it starts notifies there

    def __bool__(self) -> bool:
        return (
            bool(self.audit)
            or self.new_hold is not None
            or self.end_hold is not None
            or self.activity_key is not None
        )

    async def record_write(
        self,
        *,
        user_id: str,
        tenant_id: str | None,
        operation: str,
        request: Mapping[str, Any],
        status: int,
        code: str,
    ) -> None:
        """The Graph client's audit sink for this command's calls (`bot.graph.client.AuditSink`): the
        row is written with the command's other changes, even when the command fails."""
        if (tenant_id or "", user_id) != self.user.key:
            raise ValueError("a command's unit records the audit of its own user's writes only")
        self.audit.append(AuditRow(operation, code, dict(request), status))
