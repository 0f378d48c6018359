"""Revision 0005: releases_seen (when tagpin first saw each release: the memory behind min_age).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "releases_seen",
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("repository", "digest"))


def downgrade() -> None:
    raise NotImplementedError("tagpin does not downgrade its schema: restore the backup taken before upgrading")
