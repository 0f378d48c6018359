"""What Swarm runs, read as tagpin reads it: a digest is a digest only when the one grammar says so."""

from __future__ import annotations

import pytest

from bot.domain.running import NodeState, ServiceState, TaskState, digest_of

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(("reference", "digest"), [
    (f"r/app:1.0@{D}", D),
    (f"127.0.0.1:5000/r/app@{D}", D),
    ("r/app:latest", None),
    ("r/app@sha256:abc", None),                       # too short: not a pin, so never "on target"
    (f"r/app@{D.upper()}", None),                     # the grammar is lowercase hex
    (f"r/app@{D}0", None),
    ("r/app@sha512:" + "b" * 128, None),              # a valid digest, but not one tagpin pins or compares
])
def test_digest_of_reads_only_a_pinned_sha256(reference: str, digest: str | None) -> None:
    assert digest_of(reference) == digest


E = "sha256:" + "e" * 64
NODES = {"n1": NodeState("n1", "lab-manager", "ready", "active"),
         "n2": NodeState("n2", "lab-worker2", "down", "active", "heartbeat failure"),
         "n3": NodeState("n3", "lab-worker1", "ready", "drain")}


def task(node: str | None, digest: str, state: str, desired: str = "running", error: str = "",
         updated: str = "2026-12-07T12:00:00Z") -> TaskState:
    host = NODES[node].hostname if node else None
    return TaskState("svc", f"r/app:1@{digest}", state, desired, error, None, node, host, updated)


def service(*tasks: TaskState, image: str = f"r/app:1@{E}") -> ServiceState:
    return ServiceState("svc", "t_app", "t", "app", image, None, -1, "updating", None, {}, tasks)


def test_a_node_says_what_is_wrong_with_it() -> None:
    assert NODES["n1"].says() == "lab-manager"
    assert NODES["n2"].says() == "lab-worker2 (down: heartbeat failure)"
    assert NODES["n3"].says() == "lab-worker1 (drain)"


def test_each_node_is_judged_by_its_newest_wanted_task() -> None:
    svc = service(task("n1", D, "shutdown", "shutdown", updated="2026-12-07T12:00:05Z"),
                  task("n1", E, "running", updated="2026-12-07T12:00:04Z"))
    assert svc.per_node()["n1"].image.endswith(E)          # the one Swarm wants running, though older


def test_a_rejected_node_is_named_with_the_engines_words_and_a_later_success_clears_it() -> None:
    rejected = task("n3", E, "rejected", "shutdown", "No such image: r/app", "2026-12-07T12:00:01Z")
    svc = service(task("n1", E, "running"), rejected)
    assert svc.failures_by_node(E) == {"lab-worker1": "No such image: r/app"}
    assert svc.node_troubles(NODES) == ("on lab-worker1: rejected: No such image: r/app",)
    healed = service(task("n1", E, "running"), rejected, task("n3", E, "running", updated="2026-12-07T12:00:09Z"))
    assert healed.failures_by_node(E) == {} and healed.node_troubles(NODES) == ()
    old = service(task("n3", D, "rejected", "shutdown", "No such image: old"))      # another digest's history
    assert old.node_troubles(NODES) == ()


def test_a_down_node_and_unplaced_tasks_are_troubles() -> None:
    svc = service(task("n1", E, "running"), task("n2", E, "assigned"),
                  task(None, E, "pending", error="no suitable node (scheduling constraints not satisfied)"))
    assert svc.node_troubles(NODES) == (
        "lab-worker2 (down: heartbeat failure): its task cannot be verified",
        "1 task(s) placed on no node: no suitable node (scheduling constraints not satisfied)")


def test_a_wait_stops_when_only_a_lost_node_keeps_the_update_from_finishing() -> None:
    from bot.adapters.converge import _judge

    def prove(svc: ServiceState, target: str) -> bool:
        return True

    stuck = service(task("n1", E, "running"), task("n2", E, "assigned"))
    down = {"n2": NODES["n2"]}
    report = _judge("app", E, stuck, prove, down)
    assert report.state == "failed" and report.error is not None
    assert report.error.startswith("node lab-worker2 (down: heartbeat failure): Swarm cannot update")
    assert _judge("app", E, stuck, prove, {}).state == "pending"          # not known down: keep waiting
    # a task on a node that is up still starting: Swarm may yet finish, so keep waiting
    starting = service(task("n1", E, "starting"), task("n2", E, "assigned"))
    assert _judge("app", E, starting, prove, down).state == "pending"
    # partial: one node ran the target, another could not; the cause names both
    partial = service(task("n1", E, "running"), task("n3", E, "rejected", "shutdown", "No such image: r/app"))
    report = _judge("app", E, partial, prove, {})
    assert report.error == ("cause: partial rollout: lab-manager ran the target, lab-worker1 could not "
                            "(on lab-worker1: No such image: r/app)")
