"""A service started with its database (one stack) waits for the server to answer; a one-shot command never waits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy.engine import make_url

from bot.slack.localapi import LocalSlackAPI
from tests.support.processes import ROOT, free_port, start_tagpin, until
from tests.support.tcpproxy import TCPProxy


def service_env(tmp_path: Path, url: str, **more: str) -> dict[str, str]:
    """A tagpin with nothing but its database: start-up is what these tests look at."""
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
            "TAGPIN_DATABASE_URL": url, **more}


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_the_watcher_waits_for_a_database_server_that_comes_up_late(postgres_url: str, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "watch.err"
    with TCPProxy(int(make_url(postgres_url).port or 5432)) as proxy, LocalSlackAPI() as api:
        proxy.pause("refuse")                 # the server is not listening yet
        env = service_env(tmp_path, proxy.url(postgres_url), TAGPIN_DATABASE_WAIT="60", SLACK_BOT_TOKEN="xoxb-watch",
                          TAGPIN_SLACK_API_URL=api.url, TAGPIN_DRIFT_CHANNEL="CDRIFT")
        proc = start_tagpin(["watch", "--interval", "1"], env, "TAGPIN_WATCH_BIND", port, log, health=False)
        try:
            until(lambda: log.read_text().count("trying again") >= 2, log.read_text, timeout=30)
            assert proc.poll() is None and not healthy(port)
            said = log.read_text()
            assert "cannot create the schema in postgresql+psycopg://tagpin:***@127.0.0.1" in said, said
            proxy.resume()
            until(lambda: healthy(port), log.read_text, timeout=30)
            assert proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(30)


def test_the_bot_gives_up_after_TAGPIN_DATABASE_WAIT_with_one_error_line(postgres_url: str, tmp_path: Path) -> None:
    with TCPProxy(int(make_url(postgres_url).port or 5432)) as proxy:
        proxy.pause("refuse")
        env = service_env(tmp_path, proxy.url(postgres_url), TAGPIN_DATABASE_WAIT="3", SLACK_BOT_TOKEN="xoxb-bot",
                          SLACK_SIGNING_SECRET="s" * 32, TAGPIN_BIND=f"127.0.0.1:{free_port()}")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "bot", "bot"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        took = time.monotonic() - started
    assert done.returncode != 0
    assert 3 <= took < 20, took
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].endswith("(waited 3 s: TAGPIN_DATABASE_WAIT)"), done.stderr
    assert done.stderr.count("trying again") >= 2, done.stderr


def test_a_one_shot_command_does_not_wait_for_the_database(postgres_url: str, tmp_path: Path) -> None:
    with TCPProxy(int(make_url(postgres_url).port or 5432)) as proxy:
        proxy.pause("refuse")
        env = service_env(tmp_path, proxy.url(postgres_url), TAGPIN_DATABASE_WAIT="60")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "bot", "tenants"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        took = time.monotonic() - started
    assert done.returncode != 0 and "trying again" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: cannot create the schema in postgresql+psycopg://"), done.stderr
    assert took < 15, took
