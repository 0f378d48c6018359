"""Two `tagpin bot` processes sharing one store: ten concurrent /deploy of one tenant run exactly one deploy."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers, slash_body
from tests.e2e.conftest import Tenant
from tests.faults.bots import bot_env, upgrade_waiting
from tests.support.processes import free_port, start_bot

SECRET = "replicas-signing-secret-0123456789"


def test_ten_concurrent_deploys_across_two_bot_processes_run_exactly_one(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    first = upgrade_waiting(tenant)
    env = bot_env(tenant, slack, SECRET)
    ports = [free_port(), free_port()]
    bots = [start_bot(env, port, tmp_path / f"bot{i}.log") for i, port in enumerate(ports)]
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
