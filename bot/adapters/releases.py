"""When tagpin first saw each release (repository, digest): the store's memory behind `min_age`, shared by every
tagpin process, so a restart or another replica does not make an old release look new."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from bot.adapters.store import Store
from bot.errors import StoreError


class ReleaseSeen(SQLModel, table=True):
    __tablename__ = "releases_seen"
    repository: str = Field(primary_key=True, max_length=255)
    digest: str = Field(primary_key=True, max_length=71)
    first_seen: datetime


class ReleasesSeen:
    def __init__(self, store: Store) -> None:
        self.store = store

    def first_seen(self, repository: str, digest: str, now: datetime) -> datetime:
        """The time recorded for this release, recording `now` if it is seen for the first time (two processes
        seeing it at once keep one time: the first insert wins, the other reads it)."""
        for _ in range(2):
            with self.store.session() as s:
                row = s.get(ReleaseSeen, (repository, digest))
                if row is not None:
                    return row.first_seen.replace(tzinfo=row.first_seen.tzinfo or UTC)
            try:
                with self.store.session() as s:
                    s.add(ReleaseSeen(repository=repository, digest=digest, first_seen=now))
                    s.commit()
                return now
            except StoreError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise                # the database failed: said as it is, not as a lost race
                continue                 # another process recorded it first: read its time
        raise StoreError(f"cannot record when {repository}@{digest[:19]}… was first seen")
