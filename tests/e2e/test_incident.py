"""The incident, replayed: an old `latest` already on the node must not be what the tenant runs."""

from __future__ import annotations

import json
import subprocess

import yaml

from tests.e2e.conftest import Tenant


def test_new_tenant_runs_the_digest_of_the_highest_version_not_the_cached_latest(tenant: Tenant) -> None:
    old = tenant.push("frontend", "latest", "0.9.0-old-build")
    for tag in ("1.2.0", "1.9.0"):
        tenant.push("frontend", tag)
    want = tenant.push("frontend", "1.10.0")
    tenant.push("frontend", "2.0.0-rc.1")
    backend = tenant.push("backend", "3.0.0")
    # The trap: the node already holds the old image under `latest`.
    subprocess.run(["docker", "pull", "-q", f"{tenant.image('frontend')}:latest"], check=True, capture_output=True)
    assert old != want

    done = tenant.cli("deploy", tenant.name, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == "converged"
    assert {s["name"]: s["to"] for s in result["services"]}["frontend"].endswith(want)

    compose = yaml.safe_load(result["compose"])
    images = {name: svc["image"] for name, svc in compose["services"].items()}
    assert images == {"frontend": f"{tenant.image('frontend')}:1.10.0@{want}",
                      "backend": f"{tenant.image('backend')}:3.0.0@{backend}"}
    assert "latest" not in result["compose"] and "x-tagpin" not in result["compose"]

    # Proof from the engine itself: every running task's image is the 1.10.0 digest.
    ps = subprocess.run(["docker", "stack", "ps", tenant.name, "--no-trunc", "--filter", "desired-state=running",
                         "--format", "{{.Name}} {{.Image}} {{.CurrentState}}"],
                        capture_output=True, text=True, check=True).stdout.splitlines()
    front = [line for line in ps if "_frontend." in line]
    assert len(front) == 2 and all(f"@{want}" in line and "Running" in line for line in front), ps

    status = json.loads(tenant.cli("status", tenant.name, "--json").stdout)
    frontend = next(s for s in status["services"] if s["name"] == "frontend")
    assert frontend["running_digests"] == [want]
    assert frontend["replicas"] == {"running": 2, "desired": 2}
    assert frontend["drift"] == []


def test_a_template_pinned_to_latest_is_refused_and_nothing_is_applied(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    text = tenant.template.read_text().replace(f"{tenant.prefix}/frontend\n", f"{tenant.prefix}/frontend:latest\n")
    tenant.template.write_text(text)

    done = tenant.cli("deploy", tenant.name, "--yes")
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and "latest" in done.stderr and len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
    services = subprocess.run(["docker", "service", "ls", "-q", "--filter",
                               f"label=com.docker.stack.namespace={tenant.name}"],
                              capture_output=True, text=True, check=True).stdout
    assert services.strip() == ""
    events = json.loads(tenant.cli("audit", tenant.name, "--json").stdout)["events"]
    assert events[0]["outcome"] == "refused" and "latest" in events[0]["detail"]
