"""The initial schema: users, holds, timers, conversation references, processed activities, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in bot/store/schema.py as of this revision.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("notices_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_users"),
    )

    op.create_table(
        "holds",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("availability", sa.String(32), nullable=False),
        sa.Column("activity", sa.String(32), nullable=False),
        sa.Column("requested_end", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ended_at", Moment, nullable=True),
        sa.Column("ended_reason", sa.String(200), nullable=True),
        sa.Column("last_refresh_at", Moment, nullable=True),
        sa.Column("graph_expires_at", Moment, nullable=True),
        sa.CheckConstraint("status IN ('active', 'ended', 'cancelled', 'failed')", name="ck_holds_status"),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
    )
    op.create_index("ix_holds_user_created", "holds", ["tenant_id", "user_id", "created_at"])
    op.create_index(
        "ux_holds_active_user",
        "holds",
        ["tenant_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "timers",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("due_at", Moment, nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("hold_id", Id, nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", Moment, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["holds.id"], name="fk_timers_hold_id_holds", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
        sa.UniqueConstraint("key", name="uq_timers_key"),
    )
    op.create_index("ix_timers_due_at", "timers", ["due_at"])
    op.create_index("ix_timers_hold_id", "timers", ["hold_id"])
    op.create_index(
        "ix_timers_leased_until",
        "timers",
        ["lease_until"],
        postgresql_where=sa.text("lease_until IS NOT NULL"),
        sqlite_where=sa.text("lease_until IS NOT NULL"),
    )

    op.create_table(
        "conversation_references",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=False),
        sa.Column("conversation_type", sa.String(32), nullable=True),
        sa.Column("reference", Json, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", "conversation_id", name="pk_conversation_references"),
    )
    op.create_index(
        "ix_conversation_references_user_updated",
        "conversation_references",
        ["tenant_id", "user_id", "updated_at"],
    )

    op.create_table(
        "processed_activities",
        sa.Column("activity_id", sa.String(256), nullable=False),
        sa.Column("seen_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name="pk_processed_activities"),
    )
    op.create_index("ix_processed_activities_seen_at", "processed_activities", ["seen_at"])

    op.create_table(
        "audit_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("request", Json, nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_user_id", "audit_log", ["tenant_id", "user_id", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("processed_activities")
    op.drop_table("conversation_references")
    op.drop_table("timers")
    op.drop_table("holds")
    op.drop_table("users")
