"""The Slack job table on real SQLite and PostgreSQL: a job is handed to exactly one worker, oldest first."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.adapters.jobs import Jobs, SlackJob
from bot.adapters.store import Store
from tests.support.race import race

HEADERS = {"x-slack-signature": ["v0=abc"], "x-slack-request-timestamp": ["1700000000"]}


@pytest.fixture
def jobs(database_url: str) -> Jobs:
    store = Store(database_url)
    store.migrate()
    return Jobs(store)


def test_jobs_are_claimed_oldest_first_once_and_removed_when_done(jobs: Jobs) -> None:
    first = jobs.add("run", HEADERS, "command=%2Fstatus&text=a")
    second = jobs.add("run", {}, "command=%2Fdeploy&text=b")
    assert jobs.backlog()[0] == 2
    got = jobs.claim("w1")
    assert got is not None and (got.id, got.function, got.body, got.headers) == (
        first, "run", "command=%2Fstatus&text=a", HEADERS)
    assert jobs.backlog()[0] == 1                        # claimed is not waiting
    again = jobs.claim("w2")
    assert again is not None and again.id == second      # never the claimed one
    assert jobs.claim("w3") is None
    jobs.done(first)
    jobs.done(second)
    assert jobs.backlog() == (0, 0.0)


def test_the_backlog_says_how_long_the_oldest_unclaimed_job_waited(jobs: Jobs) -> None:
    old = jobs.add("run", {}, "a")
    jobs.add("run", {}, "b")
    with jobs.store.session() as s:
        s.execute(update(SlackJob).where(col(SlackJob.id) == old).values(created_at=time.time() - 90))
        s.commit()
    waiting, oldest = jobs.backlog()
    assert waiting == 2 and 89 < oldest < 100


def _claim_all(url: str, worker: str, go: multiprocessing.synchronize.Barrier,
               out: multiprocessing.Queue[list[int]]) -> None:
    jobs = Jobs(Store(url))
    jobs.backlog()                   # connected before the start
    go.wait(30)
    taken = []
    while (job := jobs.claim(worker)) is not None:
        taken.append(job.id)
    out.put(taken)


def test_three_processes_claiming_300_jobs_take_each_exactly_once(jobs: Jobs, database_url: str) -> None:
    made = [jobs.add("run", HEADERS, f"text={i}") for i in range(300)]
    results: list[list[int]] = race(_claim_all, [(database_url, f"w{i}") for i in range(3)])
    taken = Counter(i for r in results for i in r)
    assert sorted(taken) == made and set(taken.values()) == {1}, taken.most_common(3)
    assert sum(1 for r in results if r) >= 2, [len(r) for r in results]     # they really raced
