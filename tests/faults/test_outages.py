"""Outages around a deploy: the engine unreachable, Slack down or hanging while a deploy from Slack runs."""

from __future__ import annotations

import json
import time

import pytest

from bot.service.deploy import Deployer
from tests.e2e.conftest import Tenant
from tests.slack.harness import AUDIT, running_bot


def test_an_unreachable_engine_is_one_clear_error_audited_and_leaves_the_tenant_free(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    tenant.env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    for argv in (("deploy", tenant.name, "--yes"), ("status", tenant.name), ("drift", tenant.name)):
        started = time.monotonic()
        done = tenant.cli(*argv, "--json")
        assert done.returncode == 1, (argv, done.stdout, done.stderr)
        assert time.monotonic() - started < 30
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: cannot reach the Docker engine"), line
        assert line.endswith("unix:///nonexistent/docker.sock: No such file or directory"), line
        assert "Traceback" not in done.stdout + done.stderr
        assert json.loads(done.stdout)["kind"] == "SwarmError"
    ctx = tenant.fresh_context()
    assert ctx.store.live_lock(tenant.name) is None
    assert ("deploy", "refused") in {(e.command, e.outcome) for e in ctx.store.events(tenant.name)}
    assert ctx.store.latest_deployment(tenant.name) is None        # nothing half-started


@pytest.mark.parametrize("outage", ["down", "hanging"])
def test_slack_down_or_hanging_during_a_deploy_changes_nothing_the_deploy_must_do(tenant: Tenant, outage: str
                                                                                   ) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    first = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert first.outcome == "converged"
    tenant.push("frontend", "1.11.0")                              # an upgrade: no confirmation
    with running_bot(tenant.env) as bot:
        ack = bot.command("/deploy", tenant.name)
        assert ack.status_code == 200
        if outage == "down":
            bot.api.down = True                                   # every connection dropped unanswered
        else:
            bot.api.hang = {"chat.postMessage": 20.0, "chat.update": 20.0}
        ctx = tenant.fresh_context()
        started = time.monotonic()
        while True:
            row = ctx.store.latest_deployment(tenant.name)
            if row is not None and row.id != first.deployment_id and row.outcome != "running":
                break
            assert time.monotonic() - started < 90, "the deploy did not finish while Slack was out"
            time.sleep(0.2)
        finished = time.monotonic() - started
        assert row.outcome == "converged", row.message
        assert finished < 60                                      # each progress call waited 0.5 s at most
        freed = time.monotonic() + 3                              # the lease goes right after the last step
        while ctx.store.live_lock(tenant.name) is not None:
            assert time.monotonic() < freed, "the lease outlived the deploy"
            time.sleep(0.05)
        assert any(e.outcome == "converged" and e.deployment_id == row.id for e in ctx.store.events(tenant.name))
        bot.api.down, bot.api.hang = False, {}
        bot.wait(240)
        # The audit thread Slack missed is kept and goes out once Slack answers again.
        bot.rt.trail.flush()
        texts = [p["text"] for p in bot.posts(AUDIT)]
        assert any("converged" in t for t in texts), texts
