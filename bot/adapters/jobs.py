"""Slack work handed from the processes that acknowledge to the ones that do it, through the store: a job is the
signed request as it came (verified before it was written) and the name of the lazy listener to run on it."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlmodel import Field, SQLModel, col

from bot.adapters.store import Store
from bot.domain.jobs import Job


class SlackJob(SQLModel, table=True):
    __tablename__ = "slack_jobs"
    id: int | None = Field(default=None, primary_key=True)
    created_at: float = Field(index=True)                    # seconds since the epoch: the same for every process
    function: str = Field(max_length=100)                    # bolt's lazy function name
    headers: str                                             # JSON: {name: [values]} as bolt reads them
    body: str                                                # the raw body Slack signed
    claimed_by: str | None = Field(default=None, max_length=100, index=True)
    claimed_at: float | None = None                          # the claim, then its worker's last heartbeat (touch)


_COLUMNS = (col(SlackJob.id), col(SlackJob.created_at), col(SlackJob.function), col(SlackJob.headers),
            col(SlackJob.body), col(SlackJob.claimed_by))


def _job(row: Sequence[Any]) -> Job:
    headers = {str(k): [str(v) for v in vs] for k, vs in json.loads(row[3]).items()}
    return Job(id=row[0], created_at=row[1], function=row[2], headers=headers, body=row[4], claimed_by=row[5])


class Jobs:
    """`add` from an acknowledging process; `claim` hands the oldest unclaimed job to exactly one worker (a row lock
    skipped by the others on PostgreSQL, a conditional UPDATE on SQLite); `touch` keeps the claim fresh while it
    runs; `done` removes it; `sweep` takes out, once, the jobs whose worker stopped refreshing them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, function: str, headers: Mapping[str, Sequence[str]], body: str) -> int:
        """On the acknowledgement's path: one INSERT, committed without waiting for the disk (Store.write_soon)."""
        made = self.store.write_soon(insert(SlackJob).values(
            created_at=time.time(), function=function, body=body,
            headers=json.dumps({k: list(v) for k, v in headers.items()})).returning(col(SlackJob.id)))
        return int(made)

    def claim(self, worker: str) -> Job | None:
        oldest = (select(col(SlackJob.id)).where(col(SlackJob.claimed_by).is_(None))
                  .order_by(col(SlackJob.id)).limit(1).with_for_update(skip_locked=True).scalar_subquery())
        with self.store.session() as s:
            for _ in range(5):        # SQLite: another worker may take the same oldest row first; then the next
                taken = s.execute(update(SlackJob).where(col(SlackJob.id) == oldest, col(SlackJob.claimed_by).is_(None))
                                  .values(claimed_by=worker[:100], claimed_at=time.time())
                                  .returning(*_COLUMNS)).first()
                s.commit()
                if taken is not None:
                    return _job(taken)
                if not self.backlog()[0]:
                    return None
        return None

    def touch(self, worker: str, job_ids: Collection[int]) -> set[int]:
        """`worker`'s heartbeat: its claims on `job_ids` are refreshed; the ids it still holds (a sweep took any
        other: the worker was thought stopped and its user told so)."""
        if not job_ids:
            return set()
        with self.store.session() as s:
            held = s.execute(update(SlackJob).where(col(SlackJob.id).in_(list(job_ids)),
                                                    col(SlackJob.claimed_by) == worker[:100])
                             .values(claimed_at=time.time()).returning(col(SlackJob.id))).scalars().all()
            s.commit()
        return set(held)

    def done(self, job_id: int, worker: str) -> bool:
        """Remove a job `worker` ran; False when the row is no longer its claim (swept while it ran, and the id
        perhaps reused by a new job since, which this must not delete)."""
        with self.store.session() as s:
            gone = s.execute(delete(SlackJob).where(col(SlackJob.id) == job_id, col(SlackJob.claimed_by) == worker))
            s.commit()
            return bool(gone.rowcount)  # type: ignore[attr-defined]

    def sweep(self, stale: float, limit: int = 50) -> list[Job]:
        """Remove and return (oldest first, at most `limit`) the claimed jobs whose claim nobody refreshed for
        `stale` seconds. One DELETE … RETURNING: each is returned to exactly one sweeper -- SQLite runs one writer
        at a time; PostgreSQL skips the rows another sweep holds, and one a heartbeat refreshed meanwhile is
        re-checked against the bound and stays."""
        lost = (select(col(SlackJob.id)).where(col(SlackJob.claimed_by).is_not(None),
                                               col(SlackJob.claimed_at) < time.time() - stale)
                .order_by(col(SlackJob.id)).limit(limit).with_for_update(skip_locked=True))
        with self.store.session() as s:
            rows = s.execute(delete(SlackJob).where(col(SlackJob.id).in_(lost)).returning(*_COLUMNS)).all()
            s.commit()
        return sorted((_job(row) for row in rows), key=lambda job: job.id)

    def backlog(self) -> tuple[int, float]:
        """(jobs no worker has claimed, seconds the oldest of them has waited; 0 when none)."""
        with self.store.session() as s:
            count, oldest = s.execute(select(func.count(), func.min(col(SlackJob.created_at)))
                                      .where(col(SlackJob.claimed_by).is_(None))).one()
        return int(count), (max(0.0, time.time() - oldest) if oldest is not None else 0.0)
