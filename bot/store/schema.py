"""The store's tables, as SQLAlchemy Core metadata.

This module describes the current shape for queries and for checking migrations against; the database
itself is created and changed only by the Alembic revisions in `bot/store/migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

# Constraint and index names are spelled out so migrations and autogenerate agree on every backend.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`. SQLite has no time zones, so values are stored as naive UTC in
    SQLAlchemy's fixed-width text format, which sorts and compares correctly as text.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store only accepts timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (smaller, comparable); JSON text elsewhere.
Json: sa.types.TypeEngine[Any] = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId: sa.types.TypeEngine[int] = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

users = sa.Table(
    "users",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("time_zone", sa.String(64), nullable=True),
    # True when the user chose the zone with /timezone: then the zone Teams reports does not replace it.
    sa.Column("time_zone_explicit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("notices_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("layer", sa.String(16), nullable=False),
    sa.Column("availability", sa.String(32), nullable=False),
    sa.Column("activity", sa.String(32), nullable=False),
    sa.Column("requested_end", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("ended_reason", sa.String(200), nullable=True),
    sa.Column("last_refresh_at", UtcDateTime, nullable=True),
    sa.Column("graph_expires_at", UtcDateTime, nullable=True),
    # The conversation the hold was set from: its notices go there (None: the user's latest chat).
    sa.Column("conversation_id", sa.String(512), nullable=True),
    sa.CheckConstraint("status IN ('active', 'ended', 'cancelled', 'failed')", name="status"),
    # At most one active hold per user: a partial unique index, enforced by the database.
    sa.Index(
        "ux_holds_active_user",
        "tenant_id",
        "user_id",
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    ),
    sa.Index("ix_holds_user_created", "tenant_id", "user_id", "created_at"),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False, index=True),
    # Bumped by every schedule() of the key: completing an old firing never deletes a newer schedule.
    sa.Column("generation", sa.Integer, nullable=False, server_default="1"),
    sa.Column("hold_id", BigId, sa.ForeignKey("holds.id", ondelete="CASCADE"), nullable=True, index=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The loop's "when is the next lease expiry" query reads only leased rows.
    sa.Index(
        "ix_timers_leased_until",
        "lease_until",
        postgresql_where=sa.text("lease_until IS NOT NULL"),
        sqlite_where=sa.text("lease_until IS NOT NULL"),
    ),
)

conversation_references = sa.Table(
    "conversation_references",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("conversation_id", sa.String(512), primary_key=True),
    sa.Column("conversation_type", sa.String(32), nullable=True),
    sa.Column("reference", Json, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_conversation_references_user_updated", "tenant_id", "user_id", "updated_at"),
)

processed_activities = sa.Table(
    "processed_activities",
    metadata,
    sa.Column("activity_id", sa.String(256), primary_key=True),
    sa.Column("seen_at", UtcDateTime, nullable=False, index=True),
)

# A short lease on one user, taken around each command and hold step so that replicas sharing a
# PostgreSQL store never act for the same user at once (see bot/presence/locks.py).
user_leases = sa.Table(
    "user_leases",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("request", Json, nullable=True),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("detail", sa.String(1000), nullable=True),
    sa.Index("ix_audit_log_user_id", "tenant_id", "user_id", "id"),
)

# `/watch`: a user waiting to hear when a colleague is free (or back). Active while `ended_at` is NULL;
# it ends when it fires, at `ends_at` (expired), or when the watcher cancels it.
watches = sa.Table(
    "watches",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),  # the watcher
    sa.Column("user_name", sa.String(256), nullable=True),
    sa.Column("target_id", sa.String(256), nullable=False),  # the colleague's Entra object id
    sa.Column("target_name", sa.String(256), nullable=False),
    sa.Column("target_upn", sa.String(256), nullable=True),
    sa.Column("target_channel_id", sa.String(256), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # Where the watcher asked: the notice goes there (None: their latest chat with the bot).
    sa.Column("conversation_id", sa.String(512), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("end_reason", sa.String(16), nullable=True),
    sa.CheckConstraint("kind IN ('free', 'back')", name="kind"),
    sa.CheckConstraint("end_reason IN ('fired', 'expired', 'cancelled')", name="end_reason"),
    # At most one active watch per watcher, colleague and kind: asking again extends it.
    sa.Index(
        "ux_watches_active",
        "tenant_id",
        "user_id",
        "target_id",
        "kind",
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    ),
    # A tenant's poll reads its active watches (and the distinct colleagues among them).
    sa.Index(
        "ix_watches_active_tenant",
        "tenant_id",
        "target_id",
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    ),
    sa.Index("ix_watches_user_created", "tenant_id", "user_id", "created_at"),
)
