"""holds.conversation_id: the conversation a hold was set from, where its notices go.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: holds set before this revision (and outside a conversation) notify the latest chat.
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("conversation_id")
