"""tagpin on a real 3-node Swarm: the incident on one worker, a worker that cannot pull, a worker that dies, a
drained node, placement constraints -- each proven from every node's own dockerd, not from the manager's word."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests.cluster.conftest import NODES, LabTenant

GLOBAL = """\
  frontend:
    image: {image}
    x-tagpin: {constraint: ">=1.0.0 <3.0.0"}
    networks: [hostnet]
    stop_grace_period: 1s
    deploy:
      mode: global
      update_config: {parallelism: 3, monitor: 2s}
"""


def tasks(t: LabTenant, service: str = "frontend", tenant: str | None = None) -> dict[str, dict[str, object]]:
    status = t.json("status", tenant or t.name)
    svc = next(s for s in status["services"] if s["name"] == service)
    return {task["node"]: task for task in svc["tasks"]}


def test_an_old_image_cached_on_one_worker_never_runs(lab_tenant: LabTenant) -> None:
    """The incident, on one worker only: worker 2 holds an old `latest`; every task on every node runs the pin."""
    t = lab_tenant
    t.push("frontend", "latest", "old content, cached on worker 2")
    t.lab.docker("pull", "-q", f"{t.image('frontend')}:latest", node="lab-worker2")
    old_id = t.lab.docker("image", "inspect", "--format", "{{.Id}}", f"{t.image('frontend')}:latest",
                          node="lab-worker2").strip()
    target = t.push("frontend", "2.0.0", "the release")
    t.push("frontend", "latest", "the release")              # `latest` moves on in the registry, not on worker 2
    t.write(GLOBAL)

    done = t.cli("deploy", t.name, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "converged" in done.stdout

    running = t.containers()
    for node in NODES:                 # asked of each node's own dockerd: the image its container runs
        assert len(running[node]) == 1, running
        assert f"{t.image('frontend')}@{target}" in running[node][0]["repo_digests"], (node, running[node])
    assert running["lab-worker2"][0]["image_id"] != old_id
    seen = tasks(t)
    assert sorted(seen) == list(NODES)
    assert all(task["digest"] == target and task["state"] == "running" for task in seen.values()), seen
    text = t.cli("status", t.name).stdout
    for node in NODES:
        assert f"frontend  {node}" in text and target[:19] in text, text


def test_a_worker_that_cannot_pull_is_named_and_rolled_back(lab_tenant: LabTenant) -> None:
    t = lab_tenant
    first = t.push("frontend", "1.0.0")
    t.write(GLOBAL)
    assert t.cli("deploy", t.name, "--yes").returncode == 0
    target = t.push("frontend", "1.1.0")
    t.lab.block_registry("lab-worker2")

    done = t.cli("deploy", t.name, "--yes")
    said = done.stdout + done.stderr
    print(said)
    assert done.returncode != 0, said
    assert "rolled_back" in said
    assert "partial rollout" in said and "lab-worker2 could not" in said, said
    assert "on lab-worker2: No such image" in said, said              # the node and the engine's own words
    seen = tasks(t)
    assert all(task["digest"] == first and task["state"] == "running" for task in seen.values()), seen

    # Left half-way by hand (failure action continue), status and drift name the node and its error.
    t.lab.docker("service", "update", "--detach", "--update-failure-action", "continue", "--no-resolve-image",
                 "--image", f"{t.image('frontend')}:1.1.0@{target}", f"{t.name}_frontend")
    deadline = time.monotonic() + 60
    while True:
        drift = t.json("drift", t.name)
        partial = [f for f in drift["findings"] if f["kind"] == "partial_rollout"]
        if partial and "lab-worker2" in partial[0]["detail"]:
            break
        assert time.monotonic() < deadline, drift
        time.sleep(1)
    print(partial[0]["detail"])
    assert "on lab-worker2: rejected: No such image" in partial[0]["detail"]
    status = t.cli("status", t.name)
    assert "partial_rollout" in status.stdout and "lab-worker2" in status.stdout, status.stdout


def test_a_worker_that_dies_gets_a_clear_outcome_in_time(lab_tenant: LabTenant) -> None:
    t = lab_tenant
    t.push("frontend", "1.0.0")
    t.write(GLOBAL)
    assert t.cli("deploy", t.name, "--yes").returncode == 0
    target = t.push("frontend", "1.1.0")
    pid = int(Path("/run/tagpin-lab/lab-worker2/docker.pid").read_text())
    # Killed as the rollout starts: the manager has not noticed yet, so Swarm hands worker 2 its new task.
    subprocess.run(["kill", f"-{signal.SIGKILL.value}", str(pid)], check=True)
    start = time.monotonic()
    done = t.cli("deploy", t.name, "--yes")
    took = time.monotonic() - start
    said = done.stdout + done.stderr
    print(f"outcome after {took:.1f} s:\n{said}")
    assert done.returncode != 0, said
    assert took < 60, f"no outcome within the converge timeout: {took:.0f} s"
    assert "lab-worker2 (down" in said, said
    seen = tasks(t)
    assert seen["lab-worker2"]["node_state"] == "down", seen
    assert all(seen[n]["digest"] == target and seen[n]["state"] == "running" for n in ("lab-manager", "lab-worker1"))
    assert "lab-worker2  down" in t.cli("status", t.name).stdout


def test_a_drained_node_runs_nothing_and_the_rest_converge(lab_tenant: LabTenant) -> None:
    t = lab_tenant
    t.lab.docker("node", "update", "--availability", "drain", "lab-worker1")
    target = t.push("frontend", "1.0.0")
    t.write(GLOBAL)
    done = t.cli("deploy", t.name, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    running = t.containers()
    assert running["lab-worker1"] == [] and len(running["lab-manager"]) == len(running["lab-worker2"]) == 1, running
    seen = tasks(t)
    assert set(seen) == {"lab-manager", "lab-worker2"}
    assert all(task["digest"] == target for task in seen.values())


def test_placement_constraints_are_honoured_and_an_impossible_one_is_said(lab_tenant: LabTenant) -> None:
    t = lab_tenant
    target = t.push("frontend", "1.0.0")
    t.write(GLOBAL.replace("      mode: global\n", "      replicas: 2\n"
                           "      placement: {constraints: [node.hostname == lab-worker1]}\n"))
    done = t.cli("deploy", t.name, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    running = t.containers()
    assert len(running["lab-worker1"]) == 2 and not running["lab-manager"] and not running["lab-worker2"], running
    assert {n: task["digest"] for n, task in tasks(t).items()} == {"lab-worker1": target}

    t.push("frontend", "1.1.0")
    t.write(GLOBAL.replace("      mode: global\n", "      replicas: 2\n"
                           "      placement: {constraints: [node.labels.zone == nowhere]}\n"))
    t.env["TAGPIN_CONVERGE_TIMEOUT"] = "15"
    done = t.cli("deploy", t.name, "--yes")
    said = done.stdout + done.stderr
    print(said)
    assert done.returncode != 0 and "no suitable node" in said, said
    # Swarm's own rollback of an update no node can take may hang (the unplaced task is never stopped): tagpin
    # says so rather than waiting, and status names why nothing runs.
    assert "rollback:" in said
    status = t.cli("status", t.name).stdout
    assert "partial_rollout" in status, status
    detail = " ".join(f["detail"] for f in t.json("drift", t.name)["findings"])
    assert "placed on no node: no suitable node" in detail, detail


def test_a_rollout_halts_at_the_tenant_whose_node_cannot_pull_and_resumes_nothing_twice(
        lab_tenant: LabTenant) -> None:
    """Three tenants in waves 1,100% on the lab; worker 2 cannot pull: the canary fails there and is rolled back,
    naming the node; the second wave is never touched. With the route back, a new rollout takes every tenant."""
    t = lab_tenant
    names = [f"{t.name}{s}" for s in "abc"]
    first = t.push("frontend", "1.0.0")
    t.write(GLOBAL)
    try:
        for name in names:
            assert t.cli("deploy", name, "--yes").returncode == 0
        updated = {n: t.lab.docker("service", "inspect", f"{n}_frontend", "--format", "{{.UpdatedAt}}").strip()
                   for n in names}
        target = t.push("frontend", "1.1.0")
        t.lab.block_registry("lab-worker2")
        done = t.cli("rollout", "--tenants", ",".join(names), "--waves", "1,100%", "--yes", "--json")
        assert done.returncode != 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["outcome"] == "halted", result
        [canary] = result["results"]
        assert sorted(result["untouched"]) == names[1:], result
        print(canary["message"])
        assert canary["tenant"] == names[0] and canary["outcome"] == "rolled_back"
        assert "lab-worker2 could not" in canary["message"] and "No such image" in canary["message"]
        for name in names[1:]:         # the second wave: not a single spec update
            assert t.lab.docker("service", "inspect", f"{name}_frontend", "--format",
                                "{{.UpdatedAt}}").strip() == updated[name]
        for name in names:
            spec = t.lab.docker("service", "inspect", f"{name}_frontend", "--format",
                                "{{.Spec.TaskTemplate.ContainerSpec.Image}}").strip()
            assert spec.endswith(first), (name, spec)

        t.lab.unblock_registry("lab-worker2")
        again = t.cli("rollout", "--tenants", ",".join(names), "--waves", "1,100%", "--yes", "--json")
        assert again.returncode == 0, again.stdout + again.stderr
        assert json.loads(again.stdout)["outcome"] == "converged"
        for name in names:
            assert {task["node"]: task["digest"] for task in tasks(t, "frontend", name).values()} == \
                dict.fromkeys(NODES, target)
    finally:
        for name in names:
            t.lab.docker("stack", "rm", name, check=False)
