"""The Slack outbox: audit-trail messages stored before they are posted, so an outage never loses one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Field, SQLModel, col, select, update

from bot.adapters.store import Store
from bot.domain.times import utcnow
from bot.errors import StoreError

# How long a process's claim on a row holds: longer than one post with all its retries (a 10 s timeout, 3 tries, waits).
CLAIM = timedelta(seconds=120)


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
    posted_at: datetime | None = None  # with ts: when it was posted; without: a process is posting it since then


class Outbox:
    """Rows in, pending rows out in posting order, posted rows marked with Slack's ts."""

    def __init__(self, store: Store) -> None:
        self.store = store

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

    def claim(self, row_id: int) -> bool:
        """Take one unposted row for posting, atomically: two processes (the bot flushing, a CLI deploy posting
        its own thread) never post one row twice. A claim older than CLAIM is a dead process's, and is taken."""
        now = utcnow()
        with self.store.session() as s:
            taken = s.exec(update(OutboxMessage)
                           .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.ts).is_(None),
                                  col(OutboxMessage.posted_at).is_(None) | (col(OutboxMessage.posted_at) < now - CLAIM))
                           .values(posted_at=now, attempts=OutboxMessage.attempts + 1))
            s.commit()
            return bool(taken.rowcount == 1)

    def posted(self, row_id: int, ts: str) -> None:
        self._update(row_id, ts=ts, posted_at=utcnow(), last_error="")

    def failed(self, row_id: int, error: str) -> None:
        """The claimed post did not happen: the row is free for the next flush."""
        self._update(row_id, posted_at=None, last_error=error[:500])

    def _update(self, row_id: int, **fields: object) -> None:
        with self.store.session() as s:
            row = s.get(OutboxMessage, row_id)
            if row is None:
                raise StoreError(f"outbox message #{row_id} vanished from the database")
            for key, value in fields.items():
                setattr(row, key, value)
            s.add(row)
            s.commit()
