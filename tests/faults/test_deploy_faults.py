"""Wrong image or double action: rollback chains, leases under a slow Slack, fencing, SIGTERM/SIGKILL mid-deploy,
a failed first deploy -- on the real Swarm and registry."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bot.domain.references import ImageRef
from bot.errors import LeaseLost, LockHeld, NotFound
from bot.service.deploy import Deployer
from bot.service.reconcile import reconcile
from tests.e2e.conftest import Tenant


def _deploy(tenant: Tenant, frontend: str, **kw: object) -> dict[str, object]:
    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True,
                                                     overrides={"frontend": frontend}, allow_downgrade=True,
                                                     **kw)  # type: ignore[arg-type]
    assert result.outcome == "converged", result.message
    return result.as_dict()


def _frontend_tag(tenant: Tenant) -> str:
    out = subprocess.run(["docker", "service", "inspect", f"{tenant.name}_frontend", "--format",
                          "{{.Spec.TaskTemplate.ContainerSpec.Image}}"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("@")[0].rsplit(":", 1)[1]


def _versions(tenant: Tenant, *tags: str) -> None:
    for tag in tags:
        tenant.push("frontend", tag)
    tenant.push("backend", "3.0.0")


def test_a_second_rollback_goes_further_back_never_undoes_the_first(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4", "1.9.5")
    first = _deploy(tenant, "1.9.3")
    second = _deploy(tenant, "1.9.4")
    _deploy(tenant, "1.9.5")
    back = tenant.cli("rollback", tenant.name, "--json")
    assert back.returncode == 0, back.stderr
    data = json.loads(back.stdout)
    assert data["rolled_back_to"] == second["deployment_id"] and _frontend_tag(tenant) == "1.9.4"
    assert data["message"].startswith(f"back to deployment #{second['deployment_id']} (frontend 1.9.4")

    again = json.loads(tenant.cli("rollback", tenant.name, "--json").stdout)
    assert again["rolled_back_to"] == first["deployment_id"] and _frontend_tag(tenant) == "1.9.3"
    # 1.9.3 was the first release: nothing before it, and never back up to 1.9.5.
    with pytest.raises(NotFound, match=rf"deployment #{first['deployment_id']} is the first"):
        Deployer(tenant.fresh_context()).rollback(tenant.name, "tester")
    assert _frontend_tag(tenant) == "1.9.3"


def test_a_rollback_that_moves_a_service_up_needs_confirmation(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.5")
    _deploy(tenant, "1.9.5")
    _deploy(tenant, "1.9.3")                      # a downgrade on purpose: the release before it is higher
    refused = tenant.cli("rollback", tenant.name)
    assert refused.returncode == 1 and "this rollback moves it up 1.9.3 → 1.9.5" in refused.stderr
    assert "re-run with --yes" in refused.stderr and _frontend_tag(tenant) == "1.9.3"
    unasked = Deployer(tenant.fresh_context()).rollback(tenant.name, "tester")
    assert unasked.outcome == "awaiting_confirmation" and unasked.deployment_id is None
    assert _frontend_tag(tenant) == "1.9.3"
    done = tenant.cli("rollback", tenant.name, "--yes")
    assert done.returncode == 0, done.stderr
    assert _frontend_tag(tenant) == "1.9.5"


def test_a_slow_slack_cannot_let_the_lease_expire_under_a_live_deploy(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    tenant.env["TAGPIN_LEASE_TTL"] = "1"
    second: list[BaseException] = []
    hung: list[str] = []

    def slow_slack(step: str, detail: str) -> None:
        if step == "applying":
            hung.append(step)
            time.sleep(20)                        # a chat service that hangs, 20 lease TTLs

    def another_deploy() -> None:
        while not hung:
            time.sleep(0.05)
        time.sleep(3)                             # three TTLs into the hang
        try:
            Deployer(tenant.fresh_context()).deploy(tenant.name, "bob", confirm=lambda plan: True)
        except BaseException as exc:
            second.append(exc)

    other = threading.Thread(target=another_deploy)
    other.start()
    started = time.monotonic()
    result = _deploy(tenant, "1.9.4", on_step=slow_slack)
    other.join(60)
    assert result["outcome"] == "converged" and _frontend_tag(tenant) == "1.9.4"
    assert len(second) == 1 and isinstance(second[0], LockHeld), second
    assert "being deployed by tester" in str(second[0])
    # The hanging progress call held the deploy for its bound (0.5 s), not for the whole hang: the deployment was
    # recorded as finished well before the hang ended.
    row = tenant.fresh_context().store.deployment(int(result["deployment_id"]))  # type: ignore[call-overload]
    assert row is not None and row.finished_at is not None
    assert (row.finished_at - row.started_at).total_seconds() < 15
    assert time.monotonic() - started < 90


def test_a_deploy_whose_lease_was_taken_over_stops_before_applying(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    ctx = tenant.fresh_context()

    def taken_over(step: str, detail: str) -> None:
        if step == "planned":
            # As if this deploy had stalled past its lease and bob's deploy took the tenant over.
            ctx.store.release(tenant.name, ctx.store.live_lock(tenant.name).token)  # type: ignore[union-attr]
            ctx.store.acquire(tenant.name, "bob", ttl=60)

    with pytest.raises(LeaseLost, match="stopped before recording the deployment"):
        Deployer(ctx).deploy(tenant.name, "tester", overrides={"frontend": "1.9.4"}, on_step=taken_over,
                             confirm=lambda plan: True)
    assert _frontend_tag(tenant) == "1.9.3"
    event = ctx.store.events(tenant.name)[0]
    assert (event.command, event.outcome) == ("deploy", "refused") and "LeaseLost" in event.detail
    assert ctx.store.live_lock(tenant.name).holder == "bob"  # type: ignore[union-attr]


def _background_deploy(tenant: Tenant, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(Path(".venv/bin/tagpin").resolve()), "deploy", tenant.name, "--yes",
                             "--set", f"frontend={tag}", "--json"], env=tenant.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_running_deployment(tenant: Tenant, timeout: float = 60) -> int:
    ctx = tenant.fresh_context()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = ctx.store.latest_deployment(tenant.name)
        if row is not None and row.outcome == "running" and row.references.count("1.9.4"):
            return int(row.id or 0)
        time.sleep(0.1)
    raise AssertionError("the deploy never started applying")


def _settled(tenant: Tenant, deployment_id: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert tenant.cli("status", tenant.name).returncode == 0
        row = tenant.fresh_context().store.deployment(deployment_id)
        assert row is not None
        if row.outcome not in ("running", "interrupted"):
            return row.outcome
        time.sleep(1)
    raise AssertionError("status never reconciled the deployment")


def test_sigterm_mid_deploy_stops_cleanly_and_status_reconciles_it(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    proc = _background_deploy(tenant, "1.9.4")
    deployment_id = _wait_for_running_deployment(tenant)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5, "SIGTERM must stop the deploy at its next step boundary"
    assert proc.returncode == 130, err
    assert json.loads(out)["outcome"] == "interrupted" and "interrupted by SIGTERM while verifying" in err
    ctx = tenant.fresh_context()
    assert ctx.store.live_lock(tenant.name) is None                     # the lease was released
    row = ctx.store.deployment(deployment_id)
    assert row is not None and row.outcome == "interrupted"
    assert ctx.store.events(tenant.name)[0].outcome == "interrupted"
    # Swarm finished the update on its own; the next status proves it and records it.
    assert _settled(tenant, deployment_id) == "converged"
    reconciled = ctx.store.events(tenant.name)
    assert any(e.command == "reconcile" and e.outcome == "converged" for e in reconciled)


def test_sigkill_mid_deploy_frees_the_tenant_within_the_lease_and_is_reconciled(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    tenant.env["TAGPIN_LEASE_TTL"] = "2"
    proc = _background_deploy(tenant, "1.9.4")
    deployment_id = _wait_for_running_deployment(tenant)
    deadline = time.monotonic() + 60
    while _frontend_tag(tenant) != "1.9.4":                    # killed once Swarm has the new spec
        assert time.monotonic() < deadline, "the deploy never applied"
        time.sleep(0.1)
    proc.kill()
    proc.communicate(timeout=30)
    killed = time.monotonic()
    assert _settled(tenant, deployment_id) == "converged"
    assert time.monotonic() - killed < 30
    assert tenant.fresh_context().store.live_lock(tenant.name) is None
    assert tenant.cli("deploy", tenant.name, "--yes").returncode == 0     # the tenant is free again


def test_a_failed_first_deploy_removes_its_stack_and_leaves_the_tenant_not_onboarded(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0", cmd=("/bin/sh", "-c", "exit 3"))     # crash-loops
    tenant.push("backend", "3.0.0")
    tenant.env["TAGPIN_CONVERGE_TIMEOUT"] = "40"
    done = tenant.cli("deploy", tenant.name, "--yes", "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["outcome"] == "failed"
    assert "first deploy failed: removed the stack it created" in data["message"]
    ctx = tenant.fresh_context()
    assert ctx.swarm.stack(tenant.name) == {}
    assert ctx.store.tenant(tenant.name) is None
    again = tenant.cli("deploy", tenant.name)
    assert again.returncode == 1 and "new tenant" in again.stderr        # asks again, as for any new tenant


def test_an_image_deleted_after_planning_fails_with_the_engine_s_cause_in_the_message(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    tenant.env["TAGPIN_CONVERGE_TIMEOUT"] = "30"

    def deleted(step: str, detail: str) -> None:
        if step == "planned":         # resolved and pinned, then gone from the registry before Swarm pulls it
            tenant.pusher.delete_tag(tenant.repo("frontend"), "1.9.4")

    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", overrides={"frontend": "1.9.4"},
                                                     on_step=deleted, confirm=lambda plan: True)
    assert result.outcome in ("rolled_back", "failed")
    # Swarm's own summary ("rollback completed") hid why; the engine's task error says it.
    # the engine's own words, and the node that said them (this swarm's one node)
    assert re.search(r"cause: on \S+: No such image: ", result.message), result.message
    assert "frontend:1.9.4@sha256:" in result.message, result.message
    assert _frontend_tag(tenant) == "1.9.3"


def test_a_deploy_says_when_a_better_tag_vanished_while_it_resolved(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    ctx = tenant.fresh_context()
    real, doomed = ctx.registry, ["1.9.4"]

    class DeletesAfterListing:
        """The real registry client; right after frontend's listing, another operator deletes 1.9.4."""

        def tags(self, image: ImageRef) -> tuple[str, ...]:
            listed = real.tags(image)
            if image.name().endswith("/frontend") and doomed:
                tenant.pusher.delete_tag(tenant.repo("frontend"), doomed.pop())
            return listed

        def digest(self, image: ImageRef, tag: str) -> str | None:
            return real.digest(image, tag)

    ctx.registry = DeletesAfterListing()
    result = Deployer(ctx).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert result.outcome == "converged" and _frontend_tag(tenant) == "1.9.3"
    assert "frontend: 1.9.4 was deleted from the registry while resolving; 1.9.3 chosen" in result.message


def test_a_deploy_killed_before_it_applied_is_reconciled_as_failed_not_left_pending(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    ctx = tenant.fresh_context()
    target = f"{tenant.image('frontend')}:1.9.4@{tenant.push('frontend', '1.9.4')}"
    backend = next(s for s in ctx.swarm.stack(tenant.name).values() if s.short_name == "backend").image
    # The row a process writes just before `docker stack deploy`, then kill -9: no lease left, nothing applied.
    row = ctx.store.start_deployment(tenant=tenant.name, actor="dead", command="deploy",
                                     references=json.dumps({"frontend": target, "backend": backend}))
    status = tenant.cli("status", tenant.name)
    assert status.returncode == 0, status.stderr
    ended = ctx.store.deployment(int(row.id or 0))
    assert ended is not None and ended.outcome == "failed"
    assert ended.message.startswith("abandoned before it was applied: Swarm's spec of frontend does not pin")
    assert f"reconciled deployment #{row.id}: failed" in status.stdout


def test_reconciling_a_deployment_looks_at_swarm_once(tenant: Tenant) -> None:
    _versions(tenant, "1.9.3", "1.9.4")
    _deploy(tenant, "1.9.3")
    ctx = tenant.fresh_context()
    stack = ctx.swarm.stack(tenant.name)
    running = {s.short_name: s.image for s in stack.values()}
    tasks = sum(s.running for s in stack.values())
    row = ctx.store.start_deployment(tenant=tenant.name, actor="dead", command="deploy",
                                     references=json.dumps(running))       # died after applying what runs
    swarm = ctx.swarm
    before = swarm.api_calls  # type: ignore[attr-defined]
    said = reconcile(ctx, tenant.name)
    assert said and said[0].startswith(f"deployment #{row.id}: converged")
    # One stack read (services + tasks: 2 calls), then each running task's image proven (container + image: 2).
    assert swarm.api_calls - before == 2 + 2 * tasks  # type: ignore[attr-defined]

