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
    assert jobs.done(first, "w2") is False               # only the claimant removes it
    assert jobs.done(first, "w1") and jobs.done(second, "w2")
    assert jobs.done(first, "w1") is False
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



def _claimed_ago(jobs: Jobs, job_id: int, seconds: float) -> None:
    """As if the claim (or its last heartbeat) was `seconds` ago."""
    with jobs.store.session() as s:
        s.execute(update(SlackJob).where(col(SlackJob.id) == job_id).values(claimed_at=time.time() - seconds))
        s.commit()


def test_a_claim_nobody_refreshes_is_swept_once_after_the_bound_and_a_refreshed_one_stays(jobs: Jobs) -> None:
    lost, alive, waiting = (jobs.add("run", HEADERS, f"text={i}") for i in range(3))
    dead, live = jobs.claim("dead"), jobs.claim("live")
    assert dead is not None and live is not None and (dead.id, live.id) == (lost, alive)
    assert jobs.sweep(stale=180) == []                               # fresh claims are nobody's to take
    _claimed_ago(jobs, lost, 200)
    _claimed_ago(jobs, alive, 200)
    assert jobs.touch("live", [alive]) == {alive}                    # the live worker's heartbeat
    swept = jobs.sweep(stale=180)
    assert [(j.id, j.claimed_by, j.body, j.headers) for j in swept] == [(lost, "dead", "text=0", HEADERS)]
    assert jobs.sweep(stale=180) == []                               # out of the table: never told twice
    assert jobs.touch("dead", [lost]) == set()                       # a worker that was only slow learns it
    assert jobs.touch("other", [alive]) == set()                     # only the claimant refreshes a claim
    assert jobs.touch("live", []) == set()
    assert jobs.backlog()[0] == 1 and jobs.claim("w") is not None    # an unclaimed job waits; it is never swept
    assert jobs.done(lost, "dead") is False                          # swept: the late worker removes nothing
    assert jobs.done(alive, "live") and jobs.done(waiting, "w")
    assert jobs.backlog() == (0, 0.0)


def test_a_sweep_takes_the_oldest_stale_claims_first_and_at_most_its_limit(jobs: Jobs) -> None:
    made = [jobs.add("run", {}, f"text={i}") for i in range(5)]
    for job_id in made:
        jobs.claim("dead")
        _claimed_ago(jobs, job_id, 10)
    assert [j.id for j in jobs.sweep(stale=5, limit=2)] == made[:2]
    assert [j.id for j in jobs.sweep(stale=5)] == made[2:]


def _sweep_all(url: str, go: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[list[int]]) -> None:
    jobs = Jobs(Store(url))
    jobs.backlog()                   # connected before the start: else the first to connect sweeps everything
    go.wait(30)
    taken = []
    while swept := jobs.sweep(stale=60, limit=3):
        taken += [job.id for job in swept]
    out.put(taken)


def test_three_processes_sweeping_300_stale_claims_take_each_exactly_once(jobs: Jobs, database_url: str) -> None:
    made = [jobs.add("run", HEADERS, f"text={i}") for i in range(300)]
    while jobs.claim("dead") is not None:
        pass
    with jobs.store.session() as s:
        s.execute(update(SlackJob).values(claimed_at=time.time() - 120))
        s.commit()
    results: list[list[int]] = race(_sweep_all, [(database_url,)] * 3)
    taken = Counter(i for r in results for i in r)
    assert sorted(taken) == made and set(taken.values()) == {1}, taken.most_common(3)
    assert sum(1 for r in results if r) >= 2, [len(r) for r in results]     # they really raced


def test_a_worker_late_after_a_sweep_never_removes_the_job_that_took_its_id(jobs: Jobs) -> None:
    slow = jobs.add("run", {}, "text=slow")
    assert jobs.claim("slow") is not None
    _claimed_ago(jobs, slow, 200)
    assert [j.id for j in jobs.sweep(stale=180)] == [slow]
    newer = jobs.add("run", {}, "text=newer")           # SQLite hands the freed highest id out again
    assert jobs.done(slow, "slow") is False
    assert jobs.backlog()[0] == 1
    got = jobs.claim("fresh")
    assert got is not None and (got.id, got.body) == (newer, "text=newer")
