"""SIGTERM to a running `tagpin bot` mid-deploy: the deploy stops at a step boundary, is recorded, frees its lease,
and the process exits -- not kill -9 behaviour."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import requests

from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers, slash_body
from tests.e2e.conftest import Tenant
from tests.faults.bots import bot_env, upgrade_waiting
from tests.support.processes import free_port, start_bot

SECRET = "sigterm-signing-secret-0123456789"


def test_sigterm_to_the_bot_mid_deploy_records_interrupted_and_frees_the_tenant(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    first = upgrade_waiting(tenant)
    port = free_port()
    env = bot_env(tenant, slack, SECRET)
    proc = start_bot(env, port, tmp_path / "bot.log")
    try:
        deadline = time.monotonic() + 60
        body = slash_body("/deploy", tenant.name, user_id="UALICE", user_name="alice", channel_id="COPS",
                          response_url=slack.response_url("sigterm"))
        ack = requests.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                            headers=signed_headers(SECRET, body), timeout=10)
        assert ack.status_code == 200
        ctx = tenant.fresh_context()
        while True:
            row = ctx.store.latest_deployment(tenant.name)
            if row is not None and row.id != first.deployment_id and row.outcome == "running":
                break
            assert time.monotonic() < deadline + 60, "the Slack deploy never started applying"
            time.sleep(0.1)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < 30
    ended = ctx.store.deployment(int(row.id or 0))
    assert ended is not None and ended.outcome == "interrupted", (ended, (tmp_path / "bot.log").read_text())
    assert "interrupted by SIGTERM" in ended.message
    assert ctx.store.live_lock(tenant.name) is None
    assert any(e.outcome == "interrupted" and e.deployment_id == row.id for e in ctx.store.events(tenant.name))
