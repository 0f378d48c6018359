"""Work whose job worker stops (SIGKILL) while running it: real job workers on real SQLite and PostgreSQL keep their
claims fresh, and a sweeper tells the user once, through the response URL (the local Slack stand-in), never re-runs."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select, update
from sqlmodel import col

from bot import metrics
from bot.__main__ import build_context
from bot.adapters.jobs import Jobs, SlackJob
from bot.adapters.store import Store
from bot.config import Settings
from bot.slack.abandoned import lost
from bot.slack.app import build
from bot.slack.jobworker import JobWorker
from bot.slack.localapi import LocalSlackAPI
from bot.slack.runtime import Inflight
from bot.slack.signing import action_body, slash_body
from tests.support.processes import until
from tests.support.race import race

# Seconds, not minutes: beat every 0.1 s, a claim unrefreshed for 0.5 s is a stopped worker's, sweep every 0.1 s.
FAST = {"heartbeat": 0.1, "stale": 0.5, "sweep": 0.1}
SECRET = "lost-jobs-signing-secret-0123456789"
TEMPLATE = Path(__file__).parents[2] / "stacks" / "demo.yml"


@pytest.fixture
def slack() -> Iterator[LocalSlackAPI]:
    with LocalSlackAPI() as api:
        yield api


@pytest.fixture
def jobs(database_url: str) -> Jobs:
    store = Store(database_url)
    store.migrate()
    return Jobs(store)


def request(slack: LocalSlackAPI, key: str, command: str = "/deploy", text: str = "tenant-x") -> str:
    return slash_body(command, text, user_id="UALICE", user_name="alice", channel_id="COPS",
                      response_url=slack.response_url(key))


def bare_app(api_url: str) -> App:
    """A bolt app as a job worker builds it (no signature check), without tagpin's listeners."""
    return App(signing_secret="unused", client=WebClient(base_url=api_url, token="xoxb-local"),
               process_before_response=True, request_verification_enabled=False, token_verification_enabled=False)


Start = Callable[..., JobWorker]


@pytest.fixture
def start(database_url: str, slack: LocalSlackAPI) -> Iterator[Start]:
    """start(heartbeat=…, stale=…, sweep=…): tagpin's own job worker (`tagpin bot --role jobs`) on the test's
    database, running; every one is stopped at the end, failed test or not (no thread left on a dropped database)."""
    started: list[JobWorker] = []

    def start_worker(**timing: float) -> JobWorker:
        ctx = build_context(Settings.from_env({
            "TAGPIN_DATABASE_URL": database_url, "TAGPIN_SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-local",
            "SLACK_SIGNING_SECRET": SECRET, "TAGPIN_STACK_TEMPLATE": str(TEMPLATE)}))
        app, rt = build(ctx, role="jobs")
        started.append(JobWorker(app, ctx.tables.jobs, rt.inflight, 2, **timing).start())
        return started[-1]
    yield start_worker
    for one in started:
        one.stop()
        one.inflight.wait_idle(30)


def holder(jobs: Jobs, job_id: int) -> str | None:
    with jobs.store.session() as s:
        return s.execute(select(col(SlackJob.claimed_by)).where(col(SlackJob.id) == job_id)).scalar()


def abandoned(request: str) -> float:
    return metrics.REGISTRY.get_sample_value("tagpin_slack_jobs_abandoned_total", {"request": request}) or 0.0


def deploy_forever() -> None:
    time.sleep(3600)


def _run_forever(url: str, api_url: str) -> None:
    """A job worker process whose /deploy never ends: it holds its job, heartbeating, until it is killed."""
    app = bare_app(api_url)
    app.command("/deploy")(ack=lambda ack: ack(), lazy=[deploy_forever])
    JobWorker(app, Jobs(Store(url)), Inflight(), 1, **FAST).start()
    time.sleep(3600)


def test_a_job_whose_worker_is_killed_is_swept_after_the_bound_and_its_user_told_once(
        jobs: Jobs, database_url: str, slack: LocalSlackAPI, start: Start, caplog: pytest.LogCaptureFixture) -> None:
    job_id = jobs.add("deploy_forever", {}, request(slack, "lost"))
    child = multiprocessing.get_context("spawn").Process(target=_run_forever, args=(database_url, slack.url))
    child.start()
    try:
        until(lambda: holder(jobs, job_id), "the child worker to claim the job", timeout=60)
        sweeper = start(**FAST)
        before = abandoned("/deploy")
        time.sleep(1.5)                    # three stale bounds: the child's heartbeat keeps its claim
        assert holder(jobs, job_id) == f"{socket.gethostname()}:{child.pid}" and slack.of("response_url") == []
        with caplog.at_level(logging.WARNING, logger="tagpin.slack"):
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
            took = until(lambda: slack.of("response_url"), "the lost job's user to be told", timeout=30)
            sweeper.stop()                 # its sweep, and the log line after the post, finished
    finally:
        child.kill()
        child.join(timeout=10)
    # Not at once: a claim's last beat came at most 0.1 s before the kill, and it is swept 0.5 s after that beat.
    assert 0.25 <= took <= 5.0, took
    [call] = slack.of("response_url")
    assert call.params["response_type"] == "ephemeral" and call.params["replace_original"] is False
    text = call.params["text"]
    assert "`/deploy tenant-x`" in text and "worker stopped" in text and "partly done" in text, text
    assert "`/tagpin status tenant-x`" in str(call.params["blocks"]), call.params["blocks"]
    assert jobs.backlog() == (0, 0.0) and holder(jobs, job_id) is None        # out of the table, not re-queued
    assert abandoned("/deploy") == before + 1
    assert any(f"Slack job {job_id} (/deploy) was lost" in r.getMessage() and "its user was told" in r.getMessage()
               for r in caplog.records), caplog.text
    time.sleep(0.5)
    assert len(slack.of("response_url")) == 1                                   # the user hears it once
    print(f"\nkilled worker's job told {took:.2f} s after the kill on {database_url.split(':')[0]}")


def test_a_job_still_heartbeated_is_never_swept_however_long_it_runs(jobs: Jobs, slack: LocalSlackAPI,
                                                                    start: Start) -> None:
    slack.hang["response_url"] = 2.0       # /status of a tenant nobody onboarded: its one reply takes 2 s
    job_id = jobs.add("run", {}, request(slack, "slow", "/status", "nosuch"))
    runner = start(**FAST)
    until(lambda: holder(jobs, job_id), "the worker to claim the job", timeout=30)
    other = start(**FAST)                  # a second sweeper, beside the runner's own
    assert runner.inflight.wait_idle(30)
    runner.stop()
    other.stop()                           # their sweeps, and any post one began, are over
    replies = [str(c.params.get("text")) for c in slack.of("response_url")]
    assert len(replies) == 1 and "nosuch is not onboarded" in replies[0], replies      # its answer, no warning
    assert jobs.backlog() == (0, 0.0) and holder(jobs, job_id) is None


def test_a_worker_that_was_only_slow_learns_its_job_was_swept(jobs: Jobs, slack: LocalSlackAPI, start: Start,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    slack.hang["response_url"] = 2.0
    job_id = jobs.add("run", {}, request(slack, "slow", "/status", "nosuch"))
    with caplog.at_level(logging.WARNING, logger="tagpin.slack"):
        runner = start(heartbeat=0.1, stale=600, sweep=600)
        until(lambda: holder(jobs, job_id), "the worker to claim the job", timeout=30)
        assert [j.id for j in jobs.sweep(stale=-1)] == [job_id]     # as a sweeper would, had its beats not arrived
        assert runner.inflight.wait_idle(30)
        runner.stop()
    assert f"Slack job {job_id} was swept while it ran here" in caplog.text, caplog.text


def _sweep_and_tell(url: str, api_url: str, go: Barrier, out: multiprocessing.Queue[int]) -> None:
    sweeper = JobWorker(bare_app(api_url), Jobs(Store(url)), Inflight(), 1, heartbeat=10, stale=60, sweep=60)
    sweeper.jobs.backlog()                 # connected before the start
    go.wait(30)
    out.put(sweeper.sweep_once())


def test_three_sweepers_racing_tell_each_lost_request_s_user_exactly_once(jobs: Jobs, database_url: str,
                                                                         slack: LocalSlackAPI) -> None:
    made = [jobs.add("run", {}, request(slack, f"k{i}", text=f"tenant-{i}")) for i in range(150)]
    while jobs.claim("dead-worker") is not None:
        pass
    with jobs.store.session() as s:
        s.execute(update(SlackJob).values(claimed_at=time.time() - 120))
        s.commit()
    counts: list[int] = race(_sweep_and_tell, [(database_url, slack.url)] * 3)
    tenants = Counter(str(c.params["text"]).split("`/deploy ")[1].split("`")[0] for c in slack.of("response_url"))
    assert sorted(tenants) == sorted(f"tenant-{i}" for i in range(len(made))), len(tenants)
    assert set(tenants.values()) == {1}, tenants.most_common(3)                  # each user told exactly once
    assert sum(counts) == len(made) and sum(1 for n in counts if n) >= 2, counts  # and they really raced
    assert jobs.backlog() == (0, 0.0)
    print(f"\n{len(made)} lost requests told by 3 sweepers on {database_url.split(':')[0]}: {counts}")


def test_a_lost_request_without_a_response_url_is_logged_with_its_kind(jobs: Jobs, slack: LocalSlackAPI,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    job_id = jobs.add("run", {}, "command=%2Fdeploy&text=tenant-x&user_id=UALICE")
    jobs.claim("dead-worker")
    sweeper = JobWorker(bare_app(slack.url), jobs, Inflight(), 1, heartbeat=0.1, stale=0.5, sweep=60)
    before = abandoned("/deploy")
    with caplog.at_level(logging.WARNING, logger="tagpin.slack"):
        assert sweeper.sweep_once() == 0                       # a fresh claim: its worker may yet beat
        time.sleep(0.6)
        assert sweeper.sweep_once() == 1
    [record] = [r for r in caplog.records if f"Slack job {job_id}" in r.getMessage()]
    assert record.levelno == logging.WARNING and "(/deploy)" in record.getMessage(), record.getMessage()
    assert "dead-worker" in record.getMessage() and "no response URL" in record.getMessage()
    assert abandoned("/deploy") == before + 1 and jobs.backlog() == (0, 0.0) and slack.calls == []


def test_the_warning_names_the_request_and_what_to_check_first() -> None:
    deploy = lost({"command": "/deploy", "text": "tenant-x --allow-downgrade"})
    assert deploy["text"] == ("tagpin: This request (`/deploy tenant-x --allow-downgrade`) was lost when tagpin's job "
                              "worker stopped; it may have been partly done.")
    assert "Check `/tagpin status tenant-x` before retrying: tagpin does not retry it on its own." in str(deploy)
    rollback = lost({"command": "/tagpin", "text": "rollback acme"})
    assert "`/tagpin status acme`" in str(rollback) and "partly done" in rollback["text"]
    status = lost({"command": "/tagpin", "text": "status acme"})
    assert "It changed nothing; ask again." in str(status) and "partly" not in str(status)
    click = json.loads(parse_qs(action_body(action_id="tagpin_confirm", value="c1", user_id="U", user_name="u",
                                            channel_id="C", response_url="unused"))["payload"][0])
    confirm = lost(click)
    assert "Your click on `tagpin_confirm` was lost" in confirm["text"] and "`/tagpin audit`" in str(confirm)
