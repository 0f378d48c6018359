"""Pending Slack confirmations in the store: a restarted (or second) bot process still honours a button."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete
from sqlmodel import Field, SQLModel, col, select

from bot.adapters.store import Store


class PendingConfirmation(SQLModel, table=True):
    __tablename__ = "pending_confirmations"
    id: str = Field(primary_key=True, max_length=64)
    requester: str
    expires_at: float = Field(index=True)      # seconds since the epoch: it must mean the same after a restart
    body: str                                  # the rest of the pending deploy, as JSON


class ConfirmationTable:
    """put / get / delete-once / sweep; delete says whether this caller removed the row (one click wins)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, record: dict[str, Any]) -> None:
        with self.store.session() as s:
            s.add(PendingConfirmation(id=record["id"], requester=record["requester"],
                                      expires_at=record["expires_at"], body=json.dumps(record, sort_keys=True)))
            s.commit()

    def get(self, confirm_id: str) -> dict[str, Any] | None:
        with self.store.session() as s:
            row = s.get(PendingConfirmation, confirm_id)
            return None if row is None else dict(json.loads(row.body))

    def delete(self, confirm_id: str) -> bool:
        with self.store.session() as s:
            result = s.execute(delete(PendingConfirmation).where(col(PendingConfirmation.id) == confirm_id))
            s.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def sweep(self, now: float) -> None:
        with self.store.session() as s:
            s.execute(delete(PendingConfirmation).where(col(PendingConfirmation.expires_at) <= now))
            s.commit()

    def count(self) -> int:
        with self.store.session() as s:
            return len(list(s.exec(select(PendingConfirmation.id))))
