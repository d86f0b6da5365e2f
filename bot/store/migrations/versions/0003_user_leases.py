"""user_leases: a per-user lease so replicas never act for the same user at once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the column type in bot/store/schema.py as of this revision.
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_leases",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("lease_until", Moment, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_user_leases"),
    )


def downgrade() -> None:
    op.drop_table("user_leases")
