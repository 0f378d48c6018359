"""`tagpin watch` as a process on the real Swarm and registry: its /healthz, /readyz (fresh scans) and /metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.service.deploy import Deployer
from bot.slack.localapi import LocalSlackAPI
from tests.e2e.conftest import Tenant
from tests.support.processes import free_port, start_tagpin, until
from tests.support.prom import Samples, scrape, total, value


def readyz(url: str) -> tuple[int, dict[str, object]]:
    resp = requests.get(f"{url}/readyz", timeout=10)
    return resp.status_code, resp.json()


@pytest.fixture
def watching(tenant: Tenant, tmp_path: Path) -> Iterator[tuple[str, LocalSlackAPI, subprocess.Popen[bytes]]]:
    """A deployed tenant, then `python -m bot watch --interval 1` on a free port, posting to the local Slack."""
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert result.outcome == "converged", result.message
    port = free_port()
    with LocalSlackAPI() as api:
        env = {**tenant.env, "TAGPIN_DRIFT_CHANNEL": "CDRIFT", "SLACK_BOT_TOKEN": "xoxb-watch",
               "TAGPIN_SLACK_API_URL": api.url, "TAGPIN_LOG_FILE": str(tmp_path / "watch.log")}
        proc = start_tagpin(["watch", "--interval", "1"], env, "TAGPIN_WATCH_BIND", port, tmp_path / "watch.err")
        url = f"http://127.0.0.1:{port}"
        try:
            yield url, api, proc
        finally:
            proc.terminate()
            proc.wait(30)


def scans(samples: Samples, result: str) -> float:
    return value(samples, "tagpin_watch_scans_total", result=result)


def test_the_watcher_is_ready_while_it_scans_and_its_counters_follow_a_release(
        tenant: Tenant, watching: tuple[str, LocalSlackAPI, subprocess.Popen[bytes]]) -> None:
    url, api, proc = watching
    until(lambda: scans(scrape(url), "ok") >= 1, "a completed scan")
    status, body = readyz(url)
    assert status == 200, body
    assert set(body["checks"]) == {"store", "engine", "scan"}        # type: ignore[arg-type]
    before = scrape(url)
    assert value(before, "tagpin_drift_findings", kind="behind") == 0
    assert 0 <= value(before, "tagpin_last_scan_age_seconds") < 3

    tenant.push("frontend", "1.11.0")                                  # a release: the tenant is behind
    until(lambda: value(scrape(url), "tagpin_drift_findings", kind="behind") == 1, "the behind finding")
    until(lambda: bool(api.of("chat.postMessage")), "the notice")
    after = scrape(url)
    assert scans(after, "ok") > scans(before, "ok")
    assert (total(after, "tagpin_registry_requests_total", kind="tags_page", status="200")
            > total(before, "tagpin_registry_requests_total", kind="tags_page", status="200"))
    assert (total(after, "tagpin_engine_calls_total", call="services", result="ok")
            > total(before, "tagpin_engine_calls_total", call="services", result="ok"))
    assert value(after, "tagpin_slack_api_calls_total", method="chat.postMessage") >= 1
    assert (value(after, "tagpin_watch_scan_duration_seconds_count")
            > value(before, "tagpin_watch_scan_duration_seconds_count"))
    assert proc.poll() is None


def _lose_the_store(url: str) -> None:
    """SQLite: the file is not where it was (as good as its directory gone). PostgreSQL: the database is dropped
    under the running process (its open connections ended by the server)."""
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        moved = database.parent / "moved"
        moved.mkdir()
        for path in database.parent.glob(database.name + "*"):
            shutil.move(str(path), moved)
        return
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def test_readyz_fails_when_scans_stop_completing_and_when_the_store_goes(
        tenant: Tenant, watching: tuple[str, LocalSlackAPI, subprocess.Popen[bytes]]) -> None:
    url, _, _ = watching
    until(lambda: scans(scrape(url), "ok") >= 1, "a completed scan")
    assert readyz(url)[0] == 200
    tenant.template.unlink()                 # every scan now fails (no stack template): none completes
    until(lambda: readyz(url)[0] == 503, "stale scans", 30)
    status, body = readyz(url)
    assert body["failing"] == ["scan"], body
    assert "more than 3 intervals (3 s)" in body["checks"]["scan"]["detail"]   # type: ignore[index]
    samples = scrape(url)
    assert scans(samples, "failed") >= 1 and value(samples, "tagpin_last_scan_age_seconds") > 3
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200       # alive, not ready

    _lose_the_store(tenant.env["TAGPIN_DATABASE_URL"])
    status, body = readyz(url)
    assert status == 503 and set(body["failing"]) == {"scan", "store"}, body  # type: ignore[arg-type]
    if tenant.env["TAGPIN_DATABASE_URL"].startswith("sqlite"):
        return           # its open connections still reach the moved file: the lease stays readable
    # Once its next turn finds the lease unreadable, it says so: not a healthy standby, not ready (CI caught it ready).
    until(lambda: "lease cannot be read" in json.dumps(readyz(url)[1]), "the watcher's turn without its lease", 15)
    status, body = readyz(url)
    assert status == 503 and set(body["failing"]) == {"scan", "store"}, body  # type: ignore[arg-type]
