"""Two `tagpin bot` processes sharing one store: ten concurrent /deploy of one tenant run exactly one deploy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bot.service.deploy import Deployer
from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers, slash_body
from tests.e2e.conftest import Tenant

SECRET = "replicas-signing-secret-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_bot(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "bot"], cwd=ROOT,
                            env={**env, "TAGPIN_BIND": f"127.0.0.1:{port}"}, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return proc
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def test_ten_concurrent_deploys_across_two_bot_processes_run_exactly_one(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    tenant.push("frontend", "1.9.3")
    tenant.push("backend", "3.0.0")
    first = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert first.outcome == "converged"
    tenant.push("frontend", "1.9.4")                       # an upgrade: no confirmation needed
    env = {**tenant.env, "TAGPIN_SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-replicas",
           "SLACK_SIGNING_SECRET": SECRET, "TAGPIN_DEPLOYERS": "UALICE", "TAGPIN_AUDIT_CHANNEL": "CAUDIT"}
    ports = [_free_port(), _free_port()]
    bots = [_start_bot(env, port, tmp_path / f"bot{i}.log") for i, port in enumerate(ports)]
    try:
        def send(i: int) -> int:
            body = slash_body("/deploy", tenant.name, user_id="UALICE", user_name="alice", channel_id="COPS",
                              response_url=slack.response_url(f"replica-{i}"))      # ten distinct requests
            return requests.post(f"http://127.0.0.1:{ports[i % 2]}/slack/events", data=body.encode(),
                                 headers=signed_headers(SECRET, body), timeout=10).status_code

        with ThreadPoolExecutor(10) as pool:
            assert list(pool.map(send, range(10))) == [200] * 10
        ctx = tenant.fresh_context()
        deadline = time.monotonic() + 180
        while True:                                         # all ten answered: one deploy, nine refusals
            events = [e for e in ctx.store.events(tenant.name, limit=100)
                      if e.command == "deploy" and e.actor.startswith("UALICE")]
            if len(events) >= 10 and ctx.store.live_lock(tenant.name) is None:
                break
            assert time.monotonic() < deadline, [(e.outcome, e.detail) for e in events]
            time.sleep(0.5)
    finally:
        for proc in bots:
            proc.terminate()
        for proc in bots:
            proc.wait(timeout=30)
    rows = [r for r in ctx.store.history(tenant.name) if r.id != first.deployment_id]
    assert [r.outcome for r in rows] == ["converged"], [(r.outcome, r.message) for r in rows]
    outcomes = sorted(e.outcome for e in events)
    assert outcomes == ["converged"] + ["refused"] * 9, [(e.outcome, e.detail) for e in events]
    assert all('"kind": "LockHeld"' in e.detail for e in events if e.outcome == "refused")
    print(f"\n10 /deploy across 2 bot processes on {ctx.settings.database_url.split(':')[0]}: "
          f"{len(rows)} deploy run, {outcomes.count('refused')} refused (lease held)")
