"""Registry pushes waiting for the active watcher: any watcher that receives a notification records it here, the
active one takes them; one row per (registry, repository), so a burst of pushes is one row to scan for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col

from bot.adapters.store import Store
from bot.errors import StoreError


class RegistryPush(SQLModel, table=True):
    __tablename__ = "registry_pushes"
    host: str = Field(primary_key=True, max_length=255)
    repository: str = Field(primary_key=True, max_length=255)
    tag: str = Field(max_length=128)             # the last tag pushed (for the log: the scan reads the registry)
    received_at: datetime


class PendingPushes:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, host: str, repository: str, tag: str, now: datetime) -> None:
        """Upsert: a second push of the repository before the scan moves its time, it adds no row."""
        for _ in range(2):
            with self.store.session() as s:
                row = s.get(RegistryPush, (host, repository))
                if row is not None:
                    row.tag, row.received_at = tag, now
                    s.add(row)
                    s.commit()
                    return
            try:
                with self.store.session() as s:
                    s.add(RegistryPush(host=host, repository=repository, tag=tag, received_at=now))
                    s.commit()
                return
            except StoreError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise StoreError(f"cannot record the push of {host}/{repository}:{tag}")

    def take(self) -> list[tuple[str, str, str]]:
        """Every waiting (host, repository, tag), removed -- except a row pushed again meanwhile, left for next time."""
        with self.store.session() as s:
            rows = [(r.host, r.repository, r.tag, r.received_at) for r in s.scalars(select(RegistryPush))]
            for host, repository, _, at in rows:
                s.execute(delete(RegistryPush).where(col(RegistryPush.host) == host,
                                                     col(RegistryPush.repository) == repository,
                                                     col(RegistryPush.received_at) == at))
            s.commit()
        return [(host, repository, tag) for host, repository, tag, _ in rows]
