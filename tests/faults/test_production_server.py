"""`tagpin bot` as it runs in production: gunicorn's acknowledging processes hand the work to a job worker through the
store (real processes, real SQLite and PostgreSQL, the local Slack Web API stand-in)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import text, update

from bot.adapters.jobs import Jobs, SlackJob
from bot.adapters.store import Store
from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers, slash_body
from tests.faults.bots import answers, eventually, send
from tests.support.processes import free_port, start_bot, start_tagpin

SECRET = "production-signing-secret-0123456789"


@pytest.fixture
def env(database_url: str, slack: LocalSlackAPI, tmp_path: Path) -> dict[str, str]:
    Store(database_url).migrate()
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TAGPIN_DATABASE_URL": database_url,
            "TAGPIN_SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-local", "SLACK_SIGNING_SECRET": SECRET,
            "TAGPIN_DEPLOYERS": "UALICE", "TAGPIN_BOT_WORKERS": "2", "TAGPIN_BOT_THREADS": "2",
            "TAGPIN_STACK_TEMPLATE": str(Path(__file__).parents[2] / "stacks" / "demo.yml")}


def status(slack: LocalSlackAPI, key: str) -> str:
    """/status of a tenant nobody onboarded: answered without Swarm, through the response URL `key`."""
    return slash_body("/status", "nosuch", user_id="UALICE", user_name="alice", channel_id="COPS",
                      response_url=slack.response_url(key))


def replies(slack: LocalSlackAPI) -> list[str]:
    return [str(a.get("text")) for a in answers(slack, "nosuch is not onboarded")]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_gunicorn_workers_acknowledge_and_the_job_worker_answers(env: dict[str, str], slack: LocalSlackAPI,
                                                                 tmp_path: Path,
                                                                 stopped: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    bot = start_bot(env, port, tmp_path / "bot.log")
    stopped.append(bot)
    roles = {cmdline(c).split("--role ")[-1].strip(): c for c in children(bot.pid)}
    assert sorted(roles) == ["http", "jobs"], roles
    eventually(lambda: len(children(roles["http"])) == 2, lambda: children(roles["http"]), timeout=30)  # the workers
    body = status(slack, "r1")
    ack = send(port, body, signed_headers(SECRET, body))
    assert ack.status_code == 200 and "Checking nosuch" in ack.text, ack.text
    eventually(lambda: replies(slack), lambda: (tmp_path / "bot.log").read_text(), timeout=30)
    assert Jobs(Store(env["TAGPIN_DATABASE_URL"])).backlog() == (0, 0.0)
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    # the job worker's counter, served by an acknowledging process (one multiprocess directory)
    assert 'tagpin_slack_jobs_total{request="/status"} 1.0' in metrics, metrics
    assert 'tagpin_slack_ack_seconds_count{status="200"} 1.0' in metrics
    bot.send_signal(signal.SIGTERM)
    assert bot.wait(timeout=40) == 0
    assert not [c for c in roles.values() if Path(f"/proc/{c}").exists() and "bot" in cmdline(c)]
    assert replies(slack) and len(replies(slack)) == 1


def test_work_waits_in_the_store_until_a_job_worker_takes_it(env: dict[str, str], slack: LocalSlackAPI,
                                                             tmp_path: Path,
                                                             stopped: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    stopped.append(start_tagpin(["bot", "--role", "http"], env, "TAGPIN_BIND", port, tmp_path / "http.log"))
    body = status(slack, "r2")
    ack = send(port, body, signed_headers(SECRET, body))
    assert ack.status_code == 200 and "Checking nosuch" in ack.text, ack.text
    jobs = Jobs(Store(env["TAGPIN_DATABASE_URL"]))
    assert jobs.backlog()[0] == 1
    time.sleep(1.0)
    assert replies(slack) == []                                       # acknowledged, not done: no worker yet
    ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["jobs"]["detail"].startswith("1 waiting"), ready.text
    with jobs.store.session() as s:                                   # as if it had waited 2 minutes
        s.execute(update(SlackJob).values(created_at=time.time() - 120))
        s.commit()
    stale = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    assert stale.status_code == 503 and "jobs" in stale.json()["failing"], stale.text
    assert "`tagpin bot --role jobs`" in stale.json()["checks"]["jobs"]["detail"]
    worker = start_tagpin(["bot", "--role", "jobs"], env, "TAGPIN_BIND", free_port(), tmp_path / "jobs.log",
                          health=False)
    stopped.append(worker)
    eventually(lambda: replies(slack), lambda: (tmp_path / "jobs.log").read_text(), timeout=30)
    assert jobs.backlog() == (0, 0.0) and len(replies(slack)) == 1


def test_bolt_s_lazy_headers_from_outside_neither_skip_the_ack_nor_the_de_duplication(
        env: dict[str, str], slack: LocalSlackAPI, tmp_path: Path, stopped: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    bot = start_bot(env, port, tmp_path / "bot.log")
    stopped.append(bot)
    body = status(slack, "r3")
    forged = {**signed_headers(SECRET, body), "X-Slack-Bolt-Lazy-Only": "1", "X-Slack-Bolt-Lazy-Function-Name": "run"}
    first = send(port, body, forged)
    assert first.status_code == 200 and "Checking nosuch" in first.text, first.text   # acknowledged as any request
    eventually(lambda: replies(slack), lambda: (tmp_path / "bot.log").read_text(), timeout=30)
    replay = send(port, body, forged)                                 # the captured request again, same headers
    assert replay.status_code == 200 and replay.text == "", replay.text
    time.sleep(1.0)
    assert len(replies(slack)) == 1


def test_work_the_store_cannot_take_is_told_at_once_and_nothing_is_done(
        env: dict[str, str], slack: LocalSlackAPI, tmp_path: Path, stopped: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    stopped.append(start_tagpin(["bot", "--role", "http"], env, "TAGPIN_BIND", port, tmp_path / "http.log"))
    with Store(env["TAGPIN_DATABASE_URL"]).engine.begin() as conn:
        conn.execute(text("DROP TABLE slack_jobs"))                  # the database refuses the job's INSERT
    body = status(slack, "r4")
    ack = send(port, body, signed_headers(SECRET, body))
    assert ack.status_code == 200, ack.text
    told = ack.json()["text"]
    assert told.startswith(":warning: tagpin could not queue this request for its worker: database error on "), told
    assert "Nothing was done" in told and "Traceback" not in (tmp_path / "http.log").read_text()


def test_the_bot_stops_whole_when_a_child_dies_and_its_children_die_with_it(
        env: dict[str, str], slack: LocalSlackAPI, tmp_path: Path, stopped: list[subprocess.Popen[bytes]]) -> None:
    bot = start_bot(env, free_port(), tmp_path / "bot.log")
    stopped.append(bot)
    roles = {cmdline(c).split("--role ")[-1].strip(): c for c in children(bot.pid)}
    os.kill(roles["jobs"], signal.SIGKILL)                            # the job worker dies
    assert bot.wait(timeout=60) != 0                                  # the bot exits: Swarm restarts it whole
    assert "the job worker exited with status -9" in (tmp_path / "bot.log").read_text()
    assert not Path(f"/proc/{roles['http']}").exists() or "bot" not in cmdline(roles["http"])

    again = start_bot(env, free_port(), tmp_path / "again.log")
    stopped.append(again)
    kids = children(again.pid)
    grandkids = [g for k in kids for g in children(k)]
    os.kill(again.pid, signal.SIGKILL)                                # the supervisor dies: nothing is left behind
    again.wait(timeout=10)
    eventually(lambda: not [p for p in kids + grandkids if "bot" in cmdline(p)],
               lambda: [cmdline(p) for p in kids + grandkids], timeout=30)
