"""Revision 0003: tenant_labels and tenant_holds (what selects tenants for a rollout, what narrows one's policy).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_labels",
        sa.Column("tenant", sa.String(length=31), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("value", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "key"))
    op.create_table(
        "tenant_holds",
        sa.Column("tenant", sa.String(length=31), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("range", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("held_by", sa.String(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "service"))


def downgrade() -> None:
    raise NotImplementedError("tagpin does not downgrade its schema: restore the backup taken before upgrading")
