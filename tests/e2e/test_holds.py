"""Holds and labels on the real Swarm and registry: a hold narrows one tenant's policy for deploys and drift (an
explicit tag too), is said wherever the tenant is shown, and lifting it lets the next deploy go on; labels are set,
replaced and removed; bad input is refused by name and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import text

from tests.e2e.conftest import Tenant
from tests.e2e.fleet import onboard
from tests.support.processes import ROOT


def cli(tenant: Tenant, *argv: str, actor: str = "alice (cli)") -> subprocess.CompletedProcess[str]:
    env = {**tenant.env, "TAGPIN_ACTOR": actor}
    return subprocess.run([sys.executable, "-m", "bot", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def ok(tenant: Tenant, *argv: str) -> dict[str, Any]:
    done = cli(tenant, *argv, "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def refused(tenant: Tenant, needle: str, *argv: str) -> None:
    before = _rows(tenant)
    done = cli(tenant, *argv)
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], done.stderr
    assert _rows(tenant) == before, argv                      # nothing changed


def _rows(tenant: Tenant) -> tuple[object, ...]:
    """Every row a hold, a label or a deploy writes; a refusal's own audit row (the trail of what was refused) aside."""
    with tenant.ctx.store.engine.connect() as conn:
        return (*(tuple(conn.execute(text(f"SELECT * FROM {table}")).all())
                  for table in ("tenant_holds", "tenant_labels", "deployments")),
                tuple(conn.execute(text("SELECT * FROM audit_events WHERE outcome != 'refused'")).all()))


def running_tag(tenant: Tenant, service: str) -> str | None:
    status = ok(tenant, "status", tenant.name)
    spec = next(s for s in status["services"] if s["name"] == service)["spec_reference"]
    return str(spec).split("@")[0].rsplit(":", 1)[1] if spec else None


@pytest.fixture
def onboarded(tenant: Tenant) -> Tenant:
    onboard(tenant)
    return tenant


def test_a_hold_keeps_a_tenant_within_its_range_until_it_is_lifted(onboarded: Tenant) -> None:
    t = onboarded
    held = ok(t, "hold", t.name, "frontend", "<1.5.0", "--reason", "acme certifies 1.5 first")
    assert held["hold"]["range"] == "<1.5.0" and held["hold"]["by"] == "alice (cli)" and held["warning"] is None
    t.push("frontend", "1.6.0")
    t.push("frontend", "1.4.1")
    # drift: behind within the hold only, and it says the hold
    drift = ok(t, "drift", t.name)
    behind = [f for f in drift["findings"] if f["kind"] == "behind"]
    assert len(behind) == 1 and "1.4.1 is the newest its policy allows (held at <1.5.0)" in behind[0]["detail"]
    status = ok(t, "status", t.name)
    front = next(s for s in status["services"] if s["name"] == "frontend")
    assert front["available"]["tag"] == "1.4.1" and front["held"]["reason"] == "acme certifies 1.5 first"
    assert next(s for s in status["services"] if s["name"] == "backend")["held"] is None
    # a deploy goes as far as the hold lets it, and its plan says why it stops there
    planned = ok(t, "deploy", t.name, "--dry-run")
    assert {s["name"]: s["to"].split("@")[0].rsplit(":", 1)[1] for s in planned["services"]}["frontend"] == "1.4.1"
    deployed = cli(t, "deploy", t.name, "--yes")
    assert deployed.returncode == 0, deployed.stderr
    assert "frontend: held at <1.5.0 by alice (cli): acme certifies 1.5 first" in deployed.stdout + deployed.stderr
    assert running_tag(t, "frontend") == "1.4.1"
    # an explicit tag outside the hold is refused, and nothing changes
    refused(t, "cannot pin frontend to 1.6.0: the tenant is held at <1.5.0", "deploy", t.name, "--set",
            "frontend=1.6.0", "--yes")
    listed = ok(t, "tenants")["tenants"]
    assert [(x["name"], [h["range"] for h in x["holds"]]) for x in listed] == [(t.name, ["<1.5.0"])]
    lifted = ok(t, "unhold", t.name, "frontend")
    assert lifted["lifted"]["range"] == "<1.5.0"
    assert cli(t, "deploy", t.name, "--yes").returncode == 0
    assert running_tag(t, "frontend") == "1.6.0"
    commands = [e["command"] for e in ok(t, "audit", t.name, "--limit", "50")["events"]]
    assert "hold" in commands and "unhold" in commands


def test_a_hold_below_what_runs_says_a_deploy_will_not_move_it_down(onboarded: Tenant) -> None:
    t = onboarded
    held = ok(t, "hold", t.name, "frontend", "<1.4.0", "--reason", "roll back acme by hand")
    assert "runs frontend 1.4.0, outside the hold" in held["warning"], held
    replaced = ok(t, "hold", t.name, "frontend", "~1.4", "--reason", "acme stays on 1.4")
    assert replaced["replaced"]["range"] == "<1.4.0" and replaced["warning"] is None


def test_labels_are_set_replaced_and_removed(onboarded: Tenant) -> None:
    t = onboarded
    assert ok(t, "tenants", "label", t.name, "canary=true", "region=eu-west")["labels"] == {
        "canary": "true", "region": "eu-west"}
    assert ok(t, "tenants", "label", t.name, "canary-", "region=us.east_1")["labels"] == {"region": "us.east_1"}
    listed = ok(t, "tenants")["tenants"]
    assert listed[0]["labels"] == {"region": "us.east_1"} and listed[0]["holds"] == []
    shown = cli(t, "tenants")
    assert "region=us.east_1" in shown.stdout and "LABELS" in shown.stdout


def test_bad_holds_and_labels_are_refused_by_name_and_change_nothing(onboarded: Tenant) -> None:
    t = onboarded
    refused(t, "nobody is not onboarded", "hold", "nobody", "frontend", "<2", "--reason", "x")
    refused(t, "the stack has no service 'db'", "hold", t.name, "db", "<2", "--reason", "x")
    refused(t, "<<1", "hold", t.name, "frontend", "<<1", "--reason", "x")
    refused(t, "a hold needs --reason", "hold", t.name, "frontend", "<2", "--reason", "   ")
    refused(t, "the following arguments are required: --reason", "hold", t.name, "frontend", "<2")
    refused(t, f"{t.name} has no hold on frontend; nothing was changed", "unhold", t.name, "frontend")
    refused(t, "invalid label key 'Canary'", "tenants", "label", t.name, "Canary=true")
    refused(t, "invalid value 'a b' for label canary", "tenants", "label", t.name, "canary=a b")
    refused(t, "expected KEY=VALUE (set) or KEY- (remove), got 'canary'", "tenants", "label", t.name, "canary")
    refused(t, "label canary is named twice", "tenants", "label", t.name, "canary=true", "canary-")
    refused(t, "invalid tenant name", "tenants", "label", "Bad_Name", "canary=true")
