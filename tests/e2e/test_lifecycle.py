"""Drift, failed rollouts, concurrent deploys and rollback on the real Swarm and registry."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot.errors import LockHeld
from bot.service.deploy import Deployer
from bot.service.observe import Observer
from tests.e2e.conftest import Tenant


def _kinds(tenant: Tenant) -> dict[str, set[str]]:
    data = Observer(tenant.fresh_context()).drift([tenant.name])
    out: dict[str, set[str]] = {}
    for f in data["findings"]:
        out.setdefault(f["service"], set()).add(f["kind"])
    return out


def _deploy(tenant: Tenant, **kw: object) -> dict[str, object]:
    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True, **kw)  # type: ignore[arg-type]
    return result.as_dict()


def test_drift_behind_then_tag_moved_then_unpinned(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert _deploy(tenant)["outcome"] == "converged"
    assert _kinds(tenant) == {}

    tenant.push("frontend", "1.11.0")
    assert _kinds(tenant) == {"frontend": {"behind"}}

    assert _deploy(tenant)["outcome"] == "converged"
    assert _kinds(tenant) == {}
    tenant.push("frontend", "1.11.0", "other content, same tag")
    assert _kinds(tenant) == {"frontend": {"tag_moved"}}

    tenant.push("backend", "latest")
    subprocess.run(["docker", "service", "update", "--detach", "--no-resolve-image", "--image",
                    f"{tenant.image('backend')}:latest", f"{tenant.name}_backend"], check=True, capture_output=True)
    assert "unpinned" in _kinds(tenant)["backend"]
    # A redeploy of the same pin: `docker stack deploy` alone keeps the hand-set `latest` (the file's image is
    # the one it last deployed); tagpin sets the pin again and says so.
    again = _deploy(tenant)
    assert again["outcome"] == "converged", again["message"]
    assert _kinds(tenant) == {}
    assert "backend: Swarm kept " in str(again["message"]) and ":latest, set outside the stack file" in str(
        again["message"])
    backend = next(s for s in again["services"] if s["name"] == "backend")  # type: ignore[attr-defined]
    assert "has no version tag" in backend["note"]


def test_missing_service_is_drift(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert _deploy(tenant)["outcome"] == "converged"
    subprocess.run(["docker", "service", "rm", f"{tenant.name}_backend"], check=True, capture_output=True)
    assert _kinds(tenant) == {"backend": {"missing"}}


def test_an_image_that_cannot_start_is_rolled_back_to_the_old_digest(tenant: Tenant) -> None:
    good = tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert _deploy(tenant)["outcome"] == "converged"
    tenant.push("frontend", "1.11.0", cmd=("/bin/does-not-exist",))

    result = _deploy(tenant)
    assert result["outcome"] == "rolled_back", result["message"]
    status = Observer(tenant.fresh_context()).status(tenant.name)
    frontend = next(s for s in status["services"] if s["name"] == "frontend")
    assert frontend["running_digests"] == [good]
    events = [e for e in tenant.fresh_context().store.events(tenant.name) if e.command == "deploy"]
    assert events[0].outcome == "rolled_back" and events[0].deployment_id == result["deployment_id"]


def test_two_concurrent_deploys_one_runs_the_other_names_the_holder(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    refusals: list[str] = []

    def second_deploy_while_the_first_applies(step: str, detail: str) -> None:
        # Deterministic overlap: the second deploy starts, in another process's context, while the first holds
        # the lock -- no race on which thread gets there first.
        if step == "applying":
            with pytest.raises(LockHeld) as held:
                Deployer(tenant.fresh_context()).deploy(tenant.name, "second", confirm=lambda plan: True)
            refusals.append(str(held.value))

    first = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True,
                                                    on_step=second_deploy_while_the_first_applies)
    assert first.outcome == "converged" and len(refusals) == 1
    assert f"{tenant.name} is being deployed by tester since" in refusals[0]
    assert f"(deployment #{first.deployment_id})" in refusals[0]
    events = tenant.fresh_context().store.events(tenant.name)
    assert any(e.actor == "second" and e.outcome == "refused" for e in events)


def test_rollback_restores_the_previous_references_exactly(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    first = _deploy(tenant)
    tenant.push("frontend", "1.11.0")
    tenant.push("backend", "3.1.0")
    second = _deploy(tenant)
    assert second["outcome"] == "converged"

    back = tenant.cli("rollback", tenant.name, "--json")
    assert back.returncode == 0, back.stderr
    data = json.loads(back.stdout)
    assert data["outcome"] == "converged" and data["rolled_back_to"] == first["deployment_id"]
    assert data["compose"] == first["compose"]
    status = Observer(tenant.fresh_context()).status(tenant.name)
    specs = {s["name"]: s["spec_reference"] for s in status["services"]}
    assert specs == {s["name"]: s["to"] for s in first["services"]}  # type: ignore[attr-defined]


def test_a_new_tenant_needs_confirmation(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    unasked = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester")
    assert unasked.outcome == "awaiting_confirmation" and "new tenant" in unasked.message
    assert unasked.deployment_id is None and unasked.confirm_id is None     # nobody to ask: nothing parked
    refused = tenant.cli("deploy", tenant.name, "--json")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    shown = json.loads(refused.stdout)
    assert shown["outcome"] == "refused" and shown["deployment_id"] is None and shown["kind"] == "ConfirmationRequired"
    assert {s["name"] for s in shown["services"]} == {"frontend", "backend"}
    assert all("new_tenant" in s["flags"] for s in shown["services"]) and shown["risks"]
    assert tenant.fresh_context().store.tenant(tenant.name) is None
    assert tenant.fresh_context().store.events(tenant.name)[0].outcome == "awaiting_confirmation"


def test_set_pins_an_exact_version_but_never_below_the_running_one_unless_asked(tenant: Tenant) -> None:
    old = tenant.push("frontend", "1.9.0")
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert _deploy(tenant)["outcome"] == "converged"

    # Worded by the service for every front end (tests/slack/test_override_wording.py has Slack's side).
    refused = tenant.cli("deploy", tenant.name, "--set", "frontend=1.9.0", "--yes")
    assert refused.returncode == 2 and "below the running 1.10.0" in refused.stderr
    assert refused.stderr.startswith("error: cannot pin frontend to 1.9.0: it is below the running 1.10.0; add "
                                     "--allow-downgrade")
    bad = tenant.cli("deploy", tenant.name, "--set", "frontend=latest", "--yes")
    assert bad.returncode == 2 and "cannot pin frontend to latest: floating tag, not a version" in bad.stderr
    unknown = tenant.cli("deploy", tenant.name, "--set", "nosuch=1.0.0", "--yes")
    assert unknown.returncode == 2 and "no service 'nosuch'" in unknown.stderr
    assert "cannot pin nosuch to 1.0.0: the stack has no service 'nosuch' (services: backend, frontend)" \
        in unknown.stderr

    asked = tenant.cli("deploy", tenant.name, "--set", "frontend=1.9.0", "--allow-downgrade", "--json")
    assert asked.returncode != 0 and "downgrade" in asked.stderr         # risky: needs --yes as well
    done = tenant.cli("deploy", tenant.name, "--set", "frontend=1.9.0", "--allow-downgrade", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    frontend = next(s for s in data["services"] if s["name"] == "frontend")
    assert frontend["to"].endswith(old) and "downgrade" in frontend["flags"]
