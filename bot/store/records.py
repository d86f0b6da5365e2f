"""What the store hands out: frozen pydantic records, never ORM objects or rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


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
