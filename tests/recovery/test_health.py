"""The recovery service's /healthz, /readyz and /metrics: test client and a real server, a real SQLite file."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import requests
from flask import Flask

from tests.recovery.conftest import Served, make_app
from tests.support.prom import parse
from tests.support.prom import value as sample

BEACON = {"tenant": "acme", "app": "annotator", "app_version": "1.10.0", "event": "load", "status": None}


def value(text: str, name: str, **labels: str) -> float:
    return sample(parse(text), name, **labels)


def test_healthz_and_readyz_answer_and_readyz_fails_when_the_database_goes(tmp_path: Path) -> None:
    home = tmp_path / "db"
    home.mkdir()
    app = make_app(tmp_path, TAGPIN_RECOVERY_DATABASE_URL=f"sqlite:///{home / 'beacons.db'}")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["ready"] is True and ready.json["checks"]["database"]["ok"] is True
    shutil.rmtree(home)
    gone = client.get("/readyz")
    assert gone.status_code == 503
    assert gone.json["failing"] == ["database"]
    assert "is gone" in gone.json["checks"]["database"]["detail"]
    assert client.get("/healthz").status_code == 200          # alive, just not ready


def test_a_locked_database_fails_readyz_within_the_bound_and_recovers(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    lock = sqlite3.connect(tmp_path / "beacons.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")                          # readers wait on it: sqlite3's busy timeout is 5 s
    try:
        started = time.monotonic()
        hung = app.test_client().get("/readyz")
        took = time.monotonic() - started
        assert hung.status_code == 503 and "no answer within" in hung.json["checks"]["database"]["detail"]
        assert took <= 2.5, took
        again = time.monotonic()
        assert app.test_client().get("/readyz").status_code == 503     # the hung probe is not stacked on
        assert time.monotonic() - again <= 2.5
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    deadline = time.monotonic() + 10
    while app.test_client().get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "readyz did not recover once the lock went"
        time.sleep(0.2)


def test_metrics_count_requests_and_beacons_on_a_real_server(tmp_path: Path) -> None:
    served = Served(make_app(tmp_path))
    try:
        before = requests.get(f"{served.url}/metrics", timeout=5)
        assert before.status_code == 200 and before.headers["Content-Type"].startswith("text/plain")
        assert requests.post(f"{served.url}/recovery/beacon", json=BEACON, timeout=5).status_code == 201
        bad = requests.post(f"{served.url}/recovery/beacon", json={**BEACON, "event": "nope"}, timeout=5)
        assert bad.status_code == 400
        assert requests.get(f"{served.url}/recovery.js", timeout=5).status_code == 200
        assert requests.get(f"{served.url}/no/such/page", timeout=5).status_code == 404
        after = requests.get(f"{served.url}/metrics", timeout=5).text
    finally:
        served.close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before.text, name, **labels)

    assert delta("tagpin_recovery_beacons_total", outcome="recorded", status="201") == 1
    assert delta("tagpin_recovery_beacons_total", outcome="refused", status="400") == 1
    assert delta("tagpin_recovery_requests_total", endpoint="/recovery/beacon", status="201") == 1
    assert delta("tagpin_recovery_requests_total", endpoint="/recovery.js", status="200") == 1
    assert delta("tagpin_recovery_requests_total", endpoint="unmatched", status="404") == 1
    assert delta("tagpin_recovery_requests_total", endpoint="/metrics", status="200") == 1   # the first scrape
    assert value(after, "process_start_time_seconds") > 0


def test_the_endpoints_are_json_and_uncached(app: Flask) -> None:
    resp = app.test_client().get("/readyz")
    assert resp.headers["Cache-Control"] == "no-store" and resp.is_json
    assert app.test_client().post("/healthz").status_code == 405
