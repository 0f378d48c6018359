"""`tagpin rollout --dry-run` on the real Swarm and registry: five tenants of one template, the fleet plan in waves
(the canary first), who is skipped and why (held, already on the target, locked), each repository listed once for
the whole fleet, and bad input refused by name before any registry request."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bot.service import fleet
from bot.service.deploy import Deployer
from tests.e2e.conftest import Tenant, remove_stack
from tests.support.processes import ROOT


def cli(tenant: Tenant, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *argv], cwd=ROOT, env=tenant.env, capture_output=True,
                          text=True, timeout=300, check=False)


def plan(tenant: Tenant, *argv: str) -> dict[str, Any]:
    done = cli(tenant, "rollout", "--dry-run", "--json", *argv)
    assert done.returncode == 0, (done.stdout, done.stderr)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.fixture
def fleet_of_five(tenant: Tenant) -> Iterator[list[str]]:
    """a, b, c, d, e of one template on frontend 1.4.0 (d labelled canary=true); then 1.5.0 is pushed. b is held
    below it, c is locked by a deploy of bob's, e is on 1.5.0 already."""
    names = [f"{tenant.name}-{x}" for x in "abcde"]
    tenant.push("frontend", "1.4.0")
    tenant.push("backend", "3.0.0")
    ctx = tenant.fresh_context()
    try:
        for name in names:
            assert Deployer(ctx).deploy(name, "tester", confirm=lambda p: True).outcome == "converged"
        tenant.push("frontend", "1.5.0")
        assert Deployer(ctx).deploy(names[4], "tester", confirm=lambda p: True).outcome == "converged"
        fleet.label(ctx, names[3], ["canary=true"], "tester")
        fleet.hold(ctx, names[1], "frontend", "<1.5.0", "b certifies 1.5 first", "bob")
        ctx.store.acquire(names[2], "bob (cli)", 300, deployment_id=None)
        yield names
    finally:
        for name in names:
            remove_stack(name)


def test_the_fleet_plan_puts_the_canary_first_and_says_who_is_skipped_and_why(tenant: Tenant,
                                                                              fleet_of_five: list[str]) -> None:
    a, b, c, d, e = fleet_of_five
    data = plan(tenant, "--waves", "1,50%,100%")
    waves = [[t["tenant"] for t in w["tenants"]] for w in data["waves"]]
    assert waves == [[d], [a]], data                         # the canary first; 50% of 2 adds no one: dropped
    change = data["waves"][0]["tenants"][0]["changes"]
    assert [(x["service"], x["from"].split("@")[0].rsplit(":", 1)[1], x["to"].split("@")[0].rsplit(":", 1)[1])
            for x in change] == [("frontend", "1.4.0", "1.5.0")]
    skipped = {s["tenant"]: s["skipped"] for s in data["skipped"]}
    assert skipped[b].startswith("held: frontend held at <1.5.0 by bob: b certifies 1.5 first"), skipped
    assert skipped[c] == "locked by bob (cli)" and skipped[e] == "already on the target"
    # one tag listing per repository (frontend, backend) and one lookup per chosen tag (1.5.0, 1.4.0 for the
    # held tenant, 3.0.0): 5 for the whole fleet, where five separate deploys would ask ~20 times
    assert data["registry_requests"] == 5, data
    assert data["risks"] == [] and data["risky"] is False
    shown = cli(tenant, "rollout", "--dry-run", "--waves", "1,50%,100%")
    assert shown.returncode == 0 and f"wave 1:\n  {d}: frontend 1.4.0 → 1.5.0" in shown.stdout, shown.stdout
    # the same release named exactly is the same plan; the label narrows the fleet to the canary
    assert plan(tenant, "frontend@1.5.0", "--waves", "1,50%,100%")["digest"] != data["digest"]   # `want` differs
    canary = plan(tenant, "--label", "canary=true", "--waves", "100%")
    assert [[t["tenant"] for t in w["tenants"]] for w in canary["waves"]] == [[d]] and canary["skipped"] == []
    # nothing applied: every tenant still runs what it ran
    for name, tag in ((a, "1.4.0"), (d, "1.4.0"), (e, "1.5.0")):
        spec = tenant.ctx.swarm.stack(name)["frontend"].spec
        assert spec is not None and spec.tag == tag


def test_bad_rollouts_are_refused_by_name(tenant: Tenant, fleet_of_five: list[str]) -> None:
    a = fleet_of_five[0]
    for argv, needle in [
        (["--waves", "0"], "--waves: '0' is neither a count"),
        (["--waves", "3,1,100%"], "each wave must reach at least as far as the one before"),
        (["--waves", "1,50%"], "--waves 1,50% reaches 3 of 5 tenant(s); end it with 100%"),
        (["--waves", "150%"], "percentage up to 100%"),
        (["--tenants", f"{a},nobody"], "nobody is not onboarded"),
        (["--label", "canary"], "expected KEY=VALUE"),
        (["--label", "tier=gold"], "no tenant matches"),
        (["db"], "the stack has no service 'db'"),
        (["frontend@2.0.0"], "cannot roll frontend out at 2.0.0: outside its constraint >=1.0.0 <2.0.0"),
        (["frontend@1.9.9"], "frontend:1.9.9 does not exist in the registry"),
        (["frontend@"], "expected SERVICE or SERVICE@VERSION"),
    ]:
        done = cli(tenant, "rollout", "--dry-run", *argv)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1 and needle in lines[0], (argv, done.stderr)
    applied = cli(tenant, "rollout")
    assert applied.returncode == 2 and "add --dry-run" in applied.stderr
