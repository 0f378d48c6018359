"""Revision 0001: the schema tagpin made with create_all before Alembic (tagpin_schema version 1), table by table.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# The models' types, spelled as plain SQLAlchemy types: sqlmodel's AutoString is a String, its UTCDateTime a
# DateTime(timezone=True), so a revision never depends on sqlmodel's own type classes.
TEXT, WHEN = sa.String, sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _index(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    # Its one row is id 1, always: no sequence (create_all made none, as the model's id has a default).
    op.create_table("tagpin_schema", sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id"))
    op.create_table(
        "tenants",
        sa.Column("name", TEXT(length=31), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", TEXT(), nullable=False),
        sa.PrimaryKeyConstraint("name"))
    op.create_table(
        "deployments", _id(),
        sa.Column("tenant", TEXT(length=31), nullable=False),
        *(sa.Column(name, TEXT(), nullable=False) for name in (
            "actor", "command", "outcome", "plan", "plan_digest", "references", "compose", "message")),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"))
    _index("deployments", "tenant")
    op.create_table(
        "audit_events", _id(),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", TEXT(), nullable=False),
        sa.Column("command", TEXT(), nullable=False),
        sa.Column("tenant", TEXT(), nullable=True),
        sa.Column("outcome", TEXT(), nullable=False),
        sa.Column("detail", TEXT(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"))
    _index("audit_events", "at", "tenant")
    op.create_table(
        "tenant_locks",
        sa.Column("tenant", TEXT(length=31), nullable=False),
        sa.Column("holder", TEXT(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("since", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("token", TEXT(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"))
    op.create_table(
        "drift_scans", _id(),
        sa.Column("finished_at", WHEN, nullable=False),
        sa.Column("tenants", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("source", TEXT(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    _index("drift_scans", "finished_at")
    _features()


def _features() -> None:
    """The tables the features own: Slack outbox, drift notices, parked confirmations, Slack requests seen."""
    op.create_table(
        "slack_outbox", _id(),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("channel", TEXT(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("text", TEXT(), nullable=False),
        sa.Column("metadata_json", TEXT(), nullable=False),
        sa.Column("ts", TEXT(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", TEXT(), nullable=False),
        sa.Column("posted_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"))
    _index("slack_outbox", "parent_id", "ts")
    op.create_table(
        "drift_notices", _id(),
        *(sa.Column(name, TEXT(), nullable=False) for name in ("tenant", "service", "kind")),
        sa.Column("running", TEXT(), nullable=True),
        sa.Column("target", TEXT(), nullable=True),
        *(sa.Column(name, TEXT(), nullable=False) for name in ("detail", "status", "channel")),
        sa.Column("ts", TEXT(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        *(sa.Column(name, WHEN, nullable=False) for name in ("first_seen", "last_seen", "last_said")),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("snoozed_until", WHEN, nullable=True),
        sa.Column("snoozed_by", TEXT(), nullable=True),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"))
    _index("drift_notices", "status", "tenant")
    op.create_table(
        "pending_confirmations",
        sa.Column("id", TEXT(length=64), nullable=False),
        sa.Column("requester", TEXT(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("body", TEXT(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    _index("pending_confirmations", "expires_at")
    op.create_table(
        "seen_requests",
        sa.Column("key", TEXT(length=200), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"))
    _index("seen_requests", "expires_at")


def downgrade() -> None:
    raise NotImplementedError("tagpin does not downgrade its schema: restore the backup taken before upgrading")
