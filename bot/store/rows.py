"""Rows in, records out: the conversions every store query module shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.core.colleagues import Colleague, Watch, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.store.records import (
    AuditEntry,
    AuditRow,
    ConversationReferenceRecord,
    Hold,
    HoldStatus,
    UserSettings,
)
from bot.store.schema import holds, watches


def tenant_key(user: UserRef) -> str:
    # The Emulator has no tenant; the key column cannot be NULL, so "" stands for "no tenant".
    return user.tenant_id or ""


def tenant_out(value: str) -> str | None:
    return value or None


def clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def audit_values(user: UserRef, row: AuditRow, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "tenant_id": tenant_key(user),
        "user_id": user.user_id,
        "operation": row.operation[:64],
        "request": row.request,
        "outcome": row.outcome[:64],
        "status_code": row.status_code,
        "detail": clip(row.detail, 1000),
    }


def active_hold_of(user: UserRef) -> sa.ColumnElement[bool]:
    return sa.and_(
        holds.c.tenant_id == tenant_key(user),
        holds.c.user_id == user.user_id,
        holds.c.status == HoldStatus.ACTIVE.value,
    )


# Records of rows the store wrote are built without validating them again (`model_construct`): the
# schema holds what the records say (types, NOT NULL, the status CHECK, aware datetimes by `UtcDateTime`),
# and these run on every command (docs/performance.md).


def user_record(row: sa.Row[Any]) -> UserSettings:
    return UserSettings.model_construct(
        tenant_id=tenant_out(row.tenant_id),
        user_id=row.user_id,
        time_zone=row.time_zone,
        time_zone_explicit=row.time_zone_explicit,
        notices_enabled=row.notices_enabled,
        updated_at=row.updated_at,
    )


def hold_record(row: sa.Row[Any]) -> Hold:
    return Hold.model_construct(
        **{**row._asdict(), "tenant_id": tenant_out(row.tenant_id), "status": HoldStatus(row.status)}
    )


def reference_record(row: sa.Row[Any]) -> ConversationReferenceRecord:
    return ConversationReferenceRecord.model_validate(
        {**row._asdict(), "tenant_id": tenant_out(row.tenant_id)}
    )


def audit_record(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry.model_validate({**row._asdict(), "tenant_id": tenant_out(row.tenant_id)})


def watch_record(row: sa.Row[Any]) -> Watch:
    tenant = tenant_out(row.tenant_id)
    return Watch(
        id=row.id,
        watcher=UserRef(user_id=row.user_id, tenant_id=tenant, name=row.user_name),
        target=Colleague(
            aad_id=row.target_id,
            name=row.target_name,
            tenant_id=tenant,
            upn=row.target_upn,
            channel_id=row.target_channel_id,
        ),
        kind=WatchKind(row.kind),
        conversation_id=row.conversation_id,
        created_at=row.created_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
        end_reason=WatchEnd(row.end_reason) if row.end_reason is not None else None,
    )


def active_watches_of(user: UserRef) -> sa.ColumnElement[bool]:
    """The watcher's watches that have not ended (including any past their end, not yet expired)."""
    return sa.and_(
        watches.c.tenant_id == tenant_key(user),
        watches.c.user_id == user.user_id,
        watches.c.ended_at.is_(None),
    )
