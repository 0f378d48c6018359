"""The Slack outbox: audit-trail messages stored before they are posted, so an outage never loses one."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel, col, select

from bot.adapters.models import utcnow
from bot.adapters.store import Store
from bot.errors import StoreError


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "slack_outbox"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    channel: str
    parent_id: int | None = Field(default=None, index=True)   # the outbox row whose message starts the thread
    text: str
    metadata_json: str = "{}"          # Slack message metadata: {"event_type": …, "event_payload": {…}}
    ts: str | None = Field(default=None, index=True)          # set once Slack accepted the post
    attempts: int = 0
    last_error: str = ""
    posted_at: datetime | None = None


class Outbox:
    """Rows in, pending rows out in posting order, posted rows marked with Slack's ts."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_table(OutboxMessage)      # own table: the core schema does not need to know about Slack

    def add(self, channel: str, text: str, metadata_json: str, parent_id: int | None = None) -> OutboxMessage:
        with self.store.session() as s:
            row = OutboxMessage(channel=channel, text=text, metadata_json=metadata_json, parent_id=parent_id)
            s.add(row)
            s.commit()
            return row

    def get(self, row_id: int) -> OutboxMessage | None:
        with self.store.session() as s:
            return s.get(OutboxMessage, row_id)

    def pending(self, channel: str, limit: int = 200) -> list[OutboxMessage]:
        """Unposted rows of one channel, oldest first, so a thread's parent always goes before its replies."""
        with self.store.session() as s:
            query = (select(OutboxMessage).where(col(OutboxMessage.ts).is_(None), OutboxMessage.channel == channel)
                     .order_by(col(OutboxMessage.id)).limit(limit))
            return list(s.exec(query))

    def thread(self, parent_id: int) -> list[OutboxMessage]:
        with self.store.session() as s:
            query = (select(OutboxMessage)
                     .where((col(OutboxMessage.id) == parent_id) | (col(OutboxMessage.parent_id) == parent_id))
                     .order_by(col(OutboxMessage.id)))
            return list(s.exec(query))

    def posted(self, row_id: int, ts: str) -> None:
        self._update(row_id, ts=ts, posted_at=utcnow(), last_error="")

    def failed(self, row_id: int, error: str) -> None:
        with self.store.session() as s:
            row = s.get(OutboxMessage, row_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error[:500]
                s.add(row)
                s.commit()

    def _update(self, row_id: int, **fields: object) -> None:
        with self.store.session() as s:
            row = s.get(OutboxMessage, row_id)
            if row is None:
                raise StoreError(f"outbox message #{row_id} vanished from the database")
            for key, value in fields.items():
                setattr(row, key, value)
            s.add(row)
            s.commit()
