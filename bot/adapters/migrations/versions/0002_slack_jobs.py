"""Revision 0002: slack_jobs, the Slack work acknowledging processes hand to the bot's job worker.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "slack_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("headers", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"))
    for column in ("created_at", "claimed_by"):
        op.create_index(op.f(f"ix_slack_jobs_{column}"), "slack_jobs", [column], unique=False)


def downgrade() -> None:
    raise NotImplementedError("tagpin does not downgrade its schema: restore the backup taken before upgrading")
