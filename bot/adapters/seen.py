"""Slack requests already acted on, kept in the store: a re-send to a restarted or second bot process is not redone."""

from __future__ import annotations

import time

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col

from bot.adapters.store import Store
from bot.errors import StoreError


class SeenRequest(SQLModel, table=True):
    __tablename__ = "seen_requests"
    key: str = Field(primary_key=True, max_length=200)
    expires_at: float = Field(index=True)        # seconds since the epoch: the same for every process


class SeenRequests:
    """`claim(key, ttl)` is True for exactly one caller across all processes sharing the database (the primary
    key decides), until the key expires."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._sweep_at = 0.0

    def claim(self, key: str, ttl: float) -> bool:
        now = time.time()
        if now >= self._sweep_at:                # bounded table: expired keys go, at most once a minute
            self._sweep_at = now + 60
            with self.store.session() as s:
                s.execute(delete(SeenRequest).where(col(SeenRequest.expires_at) <= now))
                s.commit()
        try:
            # On the acknowledgement's path: one INSERT, committed without waiting for the disk.
            self.store.write_soon(insert(SeenRequest).values(key=key, expires_at=now + ttl))
            return True
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
        with self.store.session() as s:           # taken -- unless it expired and the sweep has not run yet
            row = s.get(SeenRequest, key)
            if row is not None and row.expires_at <= now:
                s.delete(row)
                s.commit()
                return self.claim(key, ttl)
        return False
