"""Two `tagpin watch` processes on one store: one scans and posts, the other stands by and takes over within one
interval when the first is killed (-9); no notice is posted twice across the hand-over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import delete
from sqlmodel import col

from bot.adapters.models import TenantLock
from bot.adapters.notices import NoticeStore
from bot.adapters.store import Store
from bot.domain.times import utcnow
from bot.errors import LeaseLost
from bot.service.electing import WATCH_LEASE, Election, FencedNotifier
from bot.slack.localapi import LocalSlackAPI
from tests.e2e.conftest import Tenant
from tests.e2e.test_watch import payload
from tests.faults.bots import upgrade_waiting
from tests.support.processes import ROOT, free_port, start_tagpin, until
from tests.support.prom import scrape, value

INTERVAL = 4          # lease TTL 2 s, a standby tries to take over every 0.5 s


def start_watch(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`tagpin watch --interval 4` with its health port; returns once /healthz answers."""
    port = free_port()
    return (start_tagpin(["watch", "--interval", str(INTERVAL)], env, "TAGPIN_WATCH_BIND", port, log),
            f"http://127.0.0.1:{port}")


def active(url: str) -> float:
    return value(scrape(url), "tagpin_watch_active")


def test_one_watcher_scans_the_standby_takes_over_within_an_interval_of_a_kill_and_nothing_is_posted_twice(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    upgrade_waiting(tenant)                                  # frontend is behind: one notice to post
    env = {**tenant.env, "TAGPIN_DRIFT_CHANNEL": "CDRIFT", "SLACK_BOT_TOKEN": "xoxb-local",
           "TAGPIN_SLACK_API_URL": slack.url}

    def posts(service: str) -> int:
        return sum(1 for c in slack.of("chat.postMessage") if payload(c.params)["service"] == service)

    first, first_url = start_watch(env, tmp_path / "watch1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        until(lambda: posts("frontend") == 1, (tmp_path / "watch1.log").read_text)
        second, second_url = start_watch(env, tmp_path / "watch2.log")
        time.sleep(2.5 * INTERVAL)                           # both run: the first scans twice more, the second waits
        assert active(first_url) == 1 and active(second_url) == 0
        assert value(scrape(second_url), "tagpin_watch_scans_total", result="ok") == 0
        assert requests.get(f"{second_url}/readyz", timeout=5).status_code == 200     # a standby is healthy
        once = subprocess.run([sys.executable, "-m", "bot", "watch", "--once", "--json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert once.returncode == 1 and "another watcher is running" in once.stderr, once.stderr

        tenant.push("backend", "3.0.1")                      # a new finding only the survivor can post
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        handover = until(lambda: active(second_url) == 1, (tmp_path / "watch2.log").read_text, 3 * INTERVAL)
        told = until(lambda: posts("backend") == 1, (tmp_path / "watch2.log").read_text)
        time.sleep(1.5 * INTERVAL)                           # and it goes on scanning without re-posting
        assert posts("frontend") == 1 and posts("backend") == 1, [c.params for c in slack.of("chat.postMessage")]
        assert handover < INTERVAL, handover
        print(f"\nwatch hand-over on {tenant.env['TAGPIN_DATABASE_URL'].split(':')[0]}: standby active "
              f"{handover:.2f} s after kill -9 (interval {INTERVAL:g} s), new notice posted {told:.2f} s later; "
              f"notices posted: frontend {posts('frontend')}, backend {posts('backend')}")

        second.send_signal(signal.SIGTERM)                   # a clean stop gives the lease back at once
        assert second.wait(timeout=30) == 0, (tmp_path / "watch2.log").read_text()
        assert tenant.fresh_context().store.live_lock(WATCH_LEASE) is None
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def post(self, notice: object) -> str:
        self.calls.append("post")
        return "1.0"

    def update(self, notice: object) -> None:
        self.calls.append("update")

    def remind(self, notice: object) -> None:
        self.calls.append("remind")


def test_a_watcher_whose_lease_was_taken_over_says_nothing_more(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    now = [0.0]
    old = Election(store, 2, holder="old", clock=lambda: now[0])
    assert old.active() and old.ttl == 1.0
    with store.session() as s:                       # its lease ends (a long pause, a lost network) ...
        s.execute(delete(TenantLock).where(col(TenantLock.tenant) == WATCH_LEASE))
        s.commit()
    new = Election(store, 2, holder="new")
    assert new.active()                              # ... and another watcher took it over
    inner = Recorder()
    fenced = FencedNotifier(inner, old)
    now[0] += 0.5                                    # a third of the TTL on: the fence asks the store
    notice = NoticeStore(store).new("acme", "frontend", "behind", "CDRIFT", utcnow())
    with pytest.raises(LeaseLost, match="stopped before posting notice"):
        fenced.post(notice)
    assert inner.calls == []
    assert not old.active() and old.standing_by() == "standby: new is the active watcher"
    new.resign()
    assert store.live_lock(WATCH_LEASE) is None and old.active()     # a released lease is taken at once
    old.resign()
