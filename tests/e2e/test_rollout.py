"""`tagpin rollout` on the real Swarm and registry, tenants of one template: the fleet plan in waves (the canary
first), who is skipped and why (held, already on the target, locked), each repository listed once for the whole
fleet; the waves applied in order, and halted at a release that cannot start (rolled back there, no later tenant
touched); bad input and a risky plan without --yes refused, nothing deployed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.service import fleet as fleet_service
from bot.service.deploy import Deployer
from tests.e2e.conftest import Tenant
from tests.e2e.fleet import fleet, frontends
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
    """a, b, c, d, e on frontend 1.4.0 (d labelled canary=true); then 1.5.0 is pushed. b is held below it, c is
    locked by a deploy of bob's, e is on 1.5.0 already."""
    with fleet(tenant, "abcde") as names:
        ctx = tenant.fresh_context()
        tenant.push("frontend", "1.5.0")
        assert Deployer(ctx).deploy(names[4], "tester", confirm=lambda p: True).outcome == "converged"
        fleet_service.label(ctx, names[3], ["canary=true"], "tester")
        fleet_service.hold(ctx, names[1], "frontend", "<1.5.0", "b certifies 1.5 first", "bob")
        ctx.store.acquire(names[2], "bob (cli)", 300, deployment_id=None)
        yield names


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
    tenant.push("backend", "4.0.0")                    # a major jump for every tenant: a risky fleet plan
    refused = cli(tenant, "rollout")
    assert refused.returncode == 1 and "risk(s)" in refused.stderr and "re-run with --yes" in refused.stderr
    assert all(tenant.ctx.swarm.stack(n)["backend"].spec.tag == "3.0.0" for n in fleet_of_five)  # type: ignore[union-attr]


@pytest.fixture
def fleet_of_three(tenant: Tenant) -> Iterator[list[str]]:
    with fleet(tenant, "abc") as names:
        yield names


def test_a_rollout_of_six_tenants_goes_wave_by_wave_and_a_second_run_finds_nothing_to_do(tenant: Tenant) -> None:
    with fleet(tenant, "abcdef") as names:
        tenant.push("frontend", "1.5.0")
        done = cli(tenant, "rollout", "--waves", "1,50%,100%", "--parallel", "2", "--json")
        assert done.returncode == 0, (done.stdout, done.stderr)
        data = json.loads(done.stdout)
        assert data["outcome"] == "converged" and data["untouched"] == []
        assert sorted((r["wave"], r["tenant"], r["outcome"]) for r in data["results"]) == [
            (1, names[0], "converged"), *((2, n, "converged") for n in names[1:3]),
            *((3, n, "converged") for n in names[3:])]
        ended = {r["tenant"]: r["finished_at"] for r in data["results"]}
        started = {r["tenant"]: r["started_at"] for r in data["results"]}
        assert ended[names[0]] <= min(started[n] for n in names[1:3])          # wave by wave
        assert max(ended[n] for n in names[1:3]) <= min(started[n] for n in names[3:])
        assert frontends(tenant, names) == ["1.5.0"] * 6
        again = json.loads(cli(tenant, "rollout", "--json").stdout)
        assert again["results"] == [] and {s["skipped"] for s in again["skipped"]} == {"already on the target"}


def test_a_release_that_cannot_start_halts_the_rollout_at_its_first_tenant(tenant: Tenant,
                                                                           fleet_of_three: list[str]) -> None:
    a, b, c = fleet_of_three
    tenant.pusher.push(tenant.repo("frontend"), "1.6.0", cmd=("/bin/false",))     # exits at once, every time
    done = cli(tenant, "rollout", "--waves", "1,100%", "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    data = json.loads(done.stdout)
    assert data["outcome"] == "halted" and data["halted_at_wave"] == 1, data
    assert [(r["tenant"], r["outcome"]) for r in data["results"]] == [(a, "rolled_back")], data
    assert data["untouched"] == [b, c]
    assert frontends(tenant, fleet_of_three) == ["1.4.0"] * 3                   # a rolled back; b, c never touched
    assert [e.outcome for e in tenant.ctx.store.events() if e.command == "rollout"][:1] == ["halted"]


def test_within_a_wave_no_tenant_starts_once_one_failed(tenant: Tenant, fleet_of_three: list[str]) -> None:
    a, b, c = fleet_of_three
    tenant.pusher.push(tenant.repo("frontend"), "1.6.0", cmd=("/bin/false",))
    data = json.loads(cli(tenant, "rollout", "--waves", "100%", "--parallel", "1", "--json").stdout)
    assert data["outcome"] == "halted" and data["halted_at_wave"] == 1
    assert [(r["tenant"], r["outcome"]) for r in data["results"]] == [(a, "rolled_back")]
    assert data["untouched"] == [b, c]
    assert frontends(tenant, fleet_of_three) == ["1.4.0"] * 3


def frontend_previous(names: list[str]) -> list[str]:
    """The tag each tenant's frontend ran before its last Swarm update: 1.4.0 after a rollout to 1.5.0 means it was
    updated exactly once (a second deploy, even of the same spec, makes the previous spec 1.5.0)."""
    out = []
    for name in names:
        done = subprocess.run(["docker", "service", "inspect", f"{name}_frontend", "--format",
                               "{{.PreviousSpec.TaskTemplate.ContainerSpec.Image}}"],
                              capture_output=True, text=True, check=True)
        out.append(done.stdout.strip().split("@")[0].rsplit(":", 1)[-1])
    return out


def rollouts(tenant: Tenant, *argv: str) -> list[dict[str, Any]]:
    done = cli(tenant, "rollouts", "--json", *argv)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)["rollouts"]
    return found


def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_a_rollout_killed_mid_wave_resumes_and_moves_every_tenant_exactly_once(tenant: Tenant) -> None:
    tenant.env["TAGPIN_LEASE_TTL"] = "3"                # a dead process's leases expire within 3 s
    with fleet(tenant, "abcdef") as names:
        tenant.push("frontend", "1.5.0")
        before = {name: max(d.id or 0 for d in tenant.ctx.store.history(name)) for name in names}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "rollout", "--waves", "1,50%,100%", "--parallel", "2",
                                 "--json"], cwd=ROOT, env=tenant.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ctx = tenant.fresh_context()

        def applied_in_wave_2() -> Any:
            """A tenant of wave 2 whose stack Swarm was given (its frontend spec at 1.5.0), not yet verified."""
            running = ctx.tables.rollouts.recent(status="running")
            moving = [s.tenant for s in (running[0].steps if running else ()) if s.wave == 2 and s.state == "running"]
            return moving and any(frontends(tenant, [t]) == ["1.5.0"] for t in moving) and running[0]

        try:
            record = until(applied_in_wave_2, 120, "the rollout applying a tenant of wave 2")
        finally:
            proc.kill()                                 # SIGKILL: no handler, no cleanup
            proc.wait(timeout=10)
        killed = ctx.tables.rollouts.get(record.id)
        assert killed is not None and killed.counts()["converged"] >= 1 and killed.counts()["waiting"] >= 3, killed
        shown = until(lambda: [r for r in rollouts(tenant) if r["status"] == "interrupted"], 10,
                      "the killed rollout shown interrupted")[0]
        assert shown["id"] == record.id and shown["wave"] == 2 and shown["wave_count"] == 3, shown
        text_shown = cli(tenant, "rollouts").stdout
        assert f"#{record.id} interrupted, at wave 2 of 3" in text_shown
        assert f"resume: tagpin rollout --resume {record.id}" in text_shown
        # while it waits to be resumed, no other rollout of its services starts
        again = cli(tenant, "rollout", "frontend", "--yes")
        assert again.returncode == 1 and f"rollout #{record.id} of every service" in again.stderr \
            and f"was interrupted: continue it with tagpin rollout --resume {record.id}" in again.stderr, again.stderr
        resumed = cli(tenant, "rollout", "--resume", str(record.id), "--parallel", "2", "--json")
        assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
        data = json.loads(resumed.stdout)
        assert data["outcome"] == "converged" and data["resumed"] is True and data["untouched"] == [], data
        done_before = {s.tenant for s in killed.steps if s.state == "done"}
        assert {r["tenant"] for r in data["results"]} == set(names) - done_before, data   # none skipped
        # the tenant Swarm was moving when its process died is verified, its deployment reconciled, not redeployed
        caught = [r for r in data["results"] if not r["deployed"]]
        assert caught and all("finished after its process died; verified when resumed" in r["message"]
                              and r["deployment_id"] for r in caught), data
        # every tenant on the target, each moved by exactly one Swarm update and one converged deployment
        assert frontends(tenant, names) == ["1.5.0"] * 6
        assert frontend_previous(names) == ["1.4.0"] * 6
        for name in names:
            rows = [d for d in ctx.store.history(name) if (d.id or 0) > before[name] and d.outcome == "converged"]
            assert len(rows) == 1, (name, [(d.id, d.outcome, d.message) for d in ctx.store.history(name)])
        final = rollouts(tenant, str(record.id))[0]
        assert final["status"] == "converged" and final["counts"]["converged"] == 6, final
        assert all(s["state"] == "done" and s["outcome"] == "converged" for s in final["steps"]), final


def test_one_rollout_per_service_set_and_an_interrupted_one_is_resumed_or_abandoned(
        tenant: Tenant, fleet_of_three: list[str]) -> None:
    from bot.service import waves
    from bot.service.rollout import Want, plan_rollout

    tenant.push("frontend", "1.5.0")
    ctx = tenant.fresh_context()
    rid, lease = waves.begin(ctx, plan_rollout(ctx, Want.parse(["frontend"])), "alice (cli)")   # alice's, running
    try:
        for argv in (["--yes"], ["frontend", "--yes"]):
            busy = cli(tenant, "rollout", *argv)
            assert busy.returncode == 1 and f"rollout #{rid} of frontend (by alice (cli), since " in busy.stderr \
                and "is running: one rollout per service set at a time" in busy.stderr, busy.stderr
        other = cli(tenant, "rollout", "backend", "--json")            # another service set: not in the way
        assert other.returncode == 0 and json.loads(other.stdout)["outcome"] == "converged", other.stderr
        taken = cli(tenant, "rollout", "--resume", str(rid))
        assert taken.returncode == 1 and f"rollout #{rid} is being run by another process" in taken.stderr
        shown = next(r for r in rollouts(tenant) if r["id"] == rid)
        assert shown["status"] == "running" and shown["counts"]["waiting"] == 3 and shown["services"] == ["frontend"]
    finally:
        lease.release()                                  # as if alice's process had died: interrupted
    assert [r["status"] for r in rollouts(tenant) if r["id"] == rid] == ["interrupted"]
    for argv, needle, code in [
        (["--resume", "999"], "no rollout #999: tagpin rollouts lists them", 1),
        (["--resume", str(rid), "frontend"], "--resume takes the rollout as it was planned: drop SERVICE", 2),
        (["--resume", str(rid), "--waves", "100%"], "drop --waves", 2),
        (["--resume", str(rid), "--abandon", str(rid)], "drop --resume and --abandon", 2),
        (["--reason", "why"], "--reason goes with --abandon ID or --override-freeze", 2),
        (["--abandon", str(rid), "--override-freeze", "--reason", "x"], "drop --override-freeze", 2),
        (["--abandon", str(rid)], "--abandon needs --reason", 2),
        (["--abandon", str(rid), "--reason", " "], "--abandon needs --reason", 2),
    ]:
        done = cli(tenant, "rollout", *argv)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == code and len(lines) == 1 and needle in lines[0], (argv, done.stderr)
    assert [r["status"] for r in rollouts(tenant) if r["id"] == rid] == ["interrupted"]     # nothing changed
    gone = cli(tenant, "rollout", "--abandon", str(rid), "--reason", "1.5.0 is pulled", "--json")
    assert gone.returncode == 0 and json.loads(gone.stdout)["status"] == "abandoned", gone.stderr
    final = rollouts(tenant, str(rid))[0]
    assert final["message"] == "abandoned by tester: 1.5.0 is pulled" and final["counts"]["waiting"] == 3, final
    again = cli(tenant, "rollout", "--resume", str(rid))
    assert again.returncode == 1 and f"rollout #{rid} abandoned at " in again.stderr \
        and "nothing to resume" in again.stderr, again.stderr
    assert frontends(tenant, fleet_of_three) == ["1.4.0"] * 3            # none of it moved a tenant
    assert [e.outcome for e in tenant.ctx.store.events() if e.command == "rollout --abandon"] == ["abandoned"]


def test_sigterm_starts_no_more_tenants_and_leaves_the_rollout_resumable(tenant: Tenant) -> None:
    import signal

    with fleet(tenant, "abcd") as names:
        tenant.push("frontend", "1.5.0")
        proc = subprocess.Popen([sys.executable, "-m", "bot", "rollout", "--waves", "1,100%", "--json"], cwd=ROOT,
                                env=tenant.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ctx = tenant.fresh_context()

        def deploying_wave_2() -> Any:
            running = ctx.tables.rollouts.recent(status="running")
            return running and [s.tenant for s in running[0].steps if s.wave == 2 and s.state == "running"]

        try:
            (caught,) = until(deploying_wave_2, 120, "a tenant of wave 2 deploying")
        finally:
            proc.send_signal(signal.SIGTERM)            # the operator stops it: it finishes what it started
            out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (out, err)
        data = json.loads(out)
        assert data["outcome"] == "interrupted" and "stopped by SIGTERM" in data["message"], data
        # the deploy in progress stops at its next step, as any deploy does on SIGTERM: not a failed release
        assert [(r["tenant"], r["outcome"]) for r in data["results"]] == [(names[0], "converged"),
                                                                          (caught, "interrupted")], data
        assert f"{caught} stopped mid-deploy: tagpin rollout --resume {data['rollout_id']}" in err, err
        rest = sorted(set(names) - {names[0], caught})
        assert sorted(data["untouched"]) == rest and frontends(tenant, rest) == ["1.4.0"] * 2
        assert [r["status"] for r in rollouts(tenant) if r["id"] == data["rollout_id"]] == ["interrupted"]
        resumed = json.loads(cli(tenant, "rollout", "--resume", str(data["rollout_id"]), "--json").stdout)
        assert resumed["outcome"] == "converged", resumed
        assert sorted(r["tenant"] for r in resumed["results"]) == sorted([caught, *rest]), resumed
        assert frontends(tenant, names) == ["1.5.0"] * 4
