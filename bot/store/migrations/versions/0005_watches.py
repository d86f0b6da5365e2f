"""watches: users waiting to hear when a colleague is free or back (`/watch`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in bot/store/schema.py as of this revision.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)
ACTIVE = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("user_name", sa.String(256), nullable=True),
        sa.Column("target_id", sa.String(256), nullable=False),
        sa.Column("target_name", sa.String(256), nullable=False),
        sa.Column("target_upn", sa.String(256), nullable=True),
        sa.Column("target_channel_id", sa.String(256), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("ends_at", Moment, nullable=False),
        sa.Column("ended_at", Moment, nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.CheckConstraint("kind IN ('free', 'back')", name="ck_watches_kind"),
        sa.CheckConstraint("end_reason IN ('fired', 'expired', 'cancelled')", name="ck_watches_end_reason"),
        sa.PrimaryKeyConstraint("id", name="pk_watches"),
    )
    op.create_index(
        "ux_watches_active",
        "watches",
        ["tenant_id", "user_id", "target_id", "kind"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index(
        "ix_watches_active_tenant",
        "watches",
        ["tenant_id", "target_id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index("ix_watches_user_created", "watches", ["tenant_id", "user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_watches_user_created", table_name="watches")
    op.drop_index("ix_watches_active_tenant", table_name="watches")
    op.drop_index("ux_watches_active", table_name="watches")
    op.drop_table("watches")
