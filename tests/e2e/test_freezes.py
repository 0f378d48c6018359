"""Freeze windows on the real Swarm and registry: a deploy inside a global (TAGPIN_FREEZE) or a tenant's window is
refused before anything is applied, naming the window and its end; --override-freeze --reason deploys and is
audited; a rollout skips a frozen tenant and is refused wholesale under a global freeze; a rollback still runs.
Windows are laid around the real clock (never waited for)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.__main__ import build_context
from bot.config import Settings
from bot.domain.times import utcnow
from bot.errors import Refused
from bot.service.deploy import Deployer
from bot.service.observe import Observer
from tests.e2e.conftest import Tenant, remove_stack
from tests.e2e.fleet import onboard
from tests.support.processes import ROOT

NOW = utcnow()
AROUND = f"{(NOW - timedelta(hours=1)).isoformat()}/PT3H"        # holds now, ends two hours from now
ENDS = (NOW + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M UTC")


def cli(tenant: Tenant, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *argv], cwd=ROOT, env={**tenant.env, **env},
                          capture_output=True, text=True, timeout=300, check=False)


def ok(tenant: Tenant, *argv: str, **env: str) -> dict[str, Any]:
    done = cli(tenant, *argv, "--json", **env)
    assert done.returncode == 0, (done.stdout, done.stderr)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def frontend(tenant: Tenant, name: str | None = None) -> str | None:
    spec = tenant.ctx.swarm.stack(name or tenant.name)["frontend"].spec
    return spec.tag if spec else None


def refused(tenant: Tenant, *argv: str, **env: str) -> str:
    """The one error line of a refused command; no deployment row was written."""
    before = len(tenant.ctx.store.history(argv[1])) if len(argv) > 1 else 0
    done = cli(tenant, *argv, **env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), (done.stdout, done.stderr)
    if len(argv) > 1 and not argv[1].startswith("-"):
        assert len(tenant.ctx.store.history(argv[1])) == before
    return lines[0]


@pytest.fixture
def onboarded(tenant: Tenant) -> Tenant:
    onboard(tenant)
    tenant.push("frontend", "1.5.0")
    return tenant


def test_a_deploy_in_a_global_window_is_refused_until_overridden(onboarded: Tenant) -> None:
    t = onboarded
    freeze = {"TAGPIN_FREEZE": f"xmas={AROUND};weekend=cron(0 18 * * FRI)/PT1M"}
    line = refused(t, "deploy", t.name, "--yes", **freeze)
    assert f"global freeze xmas ({AROUND}, set in TAGPIN_FREEZE) until {ENDS}" in line, line
    assert "--override-freeze --reason TEXT" in line and "nothing was deployed" in line
    assert frontend(t) == "1.4.0"
    events = t.ctx.store.events(t.name)
    assert events[0].outcome == "refused" and "xmas" in events[0].detail
    # a dry run still plans, and says it is inside the window
    planned = ok(t, "deploy", t.name, "--dry-run", **freeze)
    assert "inside global freeze xmas" in planned["message"] and "a deploy now is refused" in planned["message"]
    # --override-freeze without --reason, or --reason alone, is a usage error
    assert "--override-freeze needs --reason" in refused(t, "deploy", t.name, "--override-freeze", **freeze)
    assert cli(t, "deploy", t.name, "--override-freeze", **freeze).returncode == 2
    assert "--reason goes with --override-freeze" in refused(t, "deploy", t.name, "--reason", "x", **freeze)
    # overridden, it deploys; the audit row names the window and the reason
    done = ok(t, "deploy", t.name, "--yes", "--override-freeze", "--reason", "hotfix INC-42", **freeze)
    assert done["outcome"] == "converged" and "overridden by tester: hotfix INC-42" in done["message"]
    assert frontend(t) == "1.5.0"
    override = next(e for e in t.ctx.store.events(t.name) if e.outcome == "freeze_overridden")
    detail = json.loads(override.detail)
    assert detail["reason"] == "hotfix INC-42" and [f["name"] for f in detail["freezes"]] == ["xmas"]
    assert detail["freezes"][0]["window"] == AROUND and override.actor == "tester"


def test_a_tenant_window_refuses_its_deploys_and_a_rollback_still_runs(onboarded: Tenant) -> None:
    t = onboarded
    assert ok(t, "deploy", t.name, "--yes")["outcome"] == "converged"           # now on 1.5.0
    made = ok(t, "freeze", t.name, "cron(* * * * *)/PT1H", "--reason", "acme's audit week", "--name", "audit")
    assert made["freeze"]["name"] == "audit" and made["active_until"] is not None
    second = ok(t, "freeze", t.name, AROUND, "--reason", "board demo")
    assert second["freeze"]["name"] == "freeze-1"
    listed = ok(t, "tenants")["tenants"][0]["freezes"]
    assert [(f["name"], f["window"], f["by"]) for f in listed] == [
        ("audit", "cron(* * * * *)/PT1H", "tester"), ("freeze-1", AROUND, "tester")]
    t.push("frontend", "1.6.0")
    line = refused(t, "deploy", t.name, "--yes")
    assert f"{t.name}'s freeze audit (cron(* * * * *)/PT1H, set by tester: acme's audit week) until" in line, line
    assert f"{t.name}'s freeze freeze-1 ({AROUND}, set by tester: board demo) until {ENDS}" in line
    assert frontend(t) == "1.5.0"
    # a rollback is how an incident is fixed: it runs, and says it ran inside the window
    back = ok(t, "rollback", t.name, "--yes")
    assert back["outcome"] == "converged" and "rolled back inside" in back["message"], back
    assert frontend(t) == "1.4.0"
    # bad freezes are refused by name and change nothing
    assert "has no timezone" in refused(t, "freeze", t.name, "2026-12-24T00:00/P1D", "--reason", "x")
    assert "ended already" in refused(t, "freeze", t.name, "2020-01-01T00:00Z/P1D", "--reason", "x")
    assert "a freeze needs --reason" in refused(t, "freeze", t.name, AROUND, "--reason", " ")
    assert "has no freeze named nope" in refused(t, "unfreeze", t.name, "nope")
    assert len(ok(t, "tenants")["tenants"][0]["freezes"]) == 2
    lifted = ok(t, "unfreeze", t.name, "audit")
    assert [f["name"] for f in lifted["lifted"]] == ["audit"]
    assert [f["name"] for f in ok(t, "unfreeze", t.name)["lifted"]] == ["freeze-1"]
    assert ok(t, "deploy", t.name, "--yes")["outcome"] == "converged" and frontend(t) == "1.6.0"
    commands = [e.command for e in t.ctx.store.events(t.name)]
    assert "freeze" in commands and "unfreeze" in commands


def test_a_rollout_skips_a_frozen_tenant_and_a_global_freeze_refuses_it(onboarded: Tenant) -> None:
    t = onboarded
    other = f"{t.name}-b"
    ctx = t.fresh_context()
    try:
        assert Deployer(ctx).deploy(other, "tester", overrides={"frontend": "1.4.0"},
                                    confirm=lambda p: True).outcome == "converged"
        assert frontend(t) == frontend(t, other) == "1.4.0"
        ok(t, "freeze", t.name, AROUND, "--reason", "acme's audit week")
        plan = ok(t, "rollout", "--dry-run", "--waves", "100%")
        skipped = {s["tenant"]: s["skipped"] for s in plan["skipped"]}
        assert skipped[t.name].startswith(f"frozen: {t.name}'s freeze freeze-1 ({AROUND}, set by tester: "
                                          f"acme's audit week) until {ENDS}"), skipped
        assert [[x["tenant"] for x in w["tenants"]] for w in plan["waves"]] == [[other]] and plan["freezes"] == []
        # a global freeze: the dry run shows the plan and says the freeze; applying it is refused, no tenant touched
        freeze = {"TAGPIN_FREEZE": f"xmas={AROUND}"}
        shown = cli(t, "rollout", "--dry-run", "--waves", "100%", **freeze)
        assert shown.returncode == 0 and f"frozen: global freeze xmas ({AROUND}" in shown.stdout, shown.stdout
        line = refused(t, "rollout", "--waves", "100%", **freeze)
        assert "the fleet is frozen: global freeze xmas" in line and "tagpin rollout --override-freeze" in line
        assert frontend(t, other) == "1.4.0"
        # without the global freeze the rollout moves the other tenant only
        done = ok(t, "rollout", "--waves", "100%")
        assert [(r["tenant"], r["outcome"]) for r in done["results"]] == [(other, "converged")], done
        assert frontend(t) == "1.4.0" and frontend(t, other) == "1.5.0"
        # overridden, the frozen tenant is rolled out too, and its deploy records the override
        t.push("frontend", "1.6.0")
        forced = ok(t, "rollout", "--waves", "100%", "--override-freeze", "--reason", "CVE fix", **freeze)
        assert {r["tenant"]: r["outcome"] for r in forced["results"]} == {t.name: "converged", other: "converged"}
        assert frontend(t) == "1.6.0"
        assert any(e.outcome == "freeze_overridden" and "CVE fix" in e.detail for e in t.ctx.store.events(t.name))
    finally:
        remove_stack(other)


def test_the_clock_is_injected_a_weekend_window_holds_from_friday_evening_to_monday(onboarded: Tenant) -> None:
    t = onboarded
    ctx = build_context(Settings.from_env({**t.env, "TAGPIN_FREEZE": "weekend=cron(0 18 * * FRI)/PT62H"}))
    friday = replace(ctx, clock=lambda: datetime.fromisoformat("2026-12-11T19:00Z"))
    with pytest.raises(Refused) as raised:
        Deployer(friday).deploy(t.name, "tester", confirm=lambda p: True)
    assert "global freeze weekend (cron(0 18 * * FRI)/PT62H, set in TAGPIN_FREEZE) until 2026-12-14 08:00 UTC" \
        in str(raised.value)
    assert frontend(t) == "1.4.0"
    status = Observer(friday).status(t.name)
    assert status["freezes"] == ["inside global freeze weekend (cron(0 18 * * FRI)/PT62H, set in TAGPIN_FREEZE) "
                                 "until 2026-12-14 08:00 UTC: a deploy now is refused"]
    monday = replace(ctx, clock=lambda: datetime.fromisoformat("2026-12-14T08:00Z"))      # the end is outside
    assert Observer(monday).status(t.name)["freezes"] == []
    assert Deployer(monday).deploy(t.name, "tester", confirm=lambda p: True).outcome == "converged"
    assert frontend(t) == "1.5.0"
