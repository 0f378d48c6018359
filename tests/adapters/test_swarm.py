"""The Swarm adapter against the real engine: reading stacks in two API calls, applying and pinning, converging,
retrying."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.converge import Converger
from bot.adapters.swarm import Swarm
from bot.domain.running import digest_of
from bot.errors import SwarmError
from tests.e2e.conftest import remove_stack
from tests.support.oci import Pusher

COMPOSE = """\
version: "3.8"
services:
  web:
    image: {image}
    networks: [hostnet]
    deploy: {{replicas: {replicas}}}
  idle:
    image: {image}
    networks: [hostnet]
    deploy: {{replicas: 0}}
networks:
  hostnet: {{external: true, name: host}}
"""


@pytest.fixture
def stack(registry: str, swarm: Any, unique: str) -> Iterator[tuple[Swarm, str, str, str]]:
    pushed = Pusher(registry).push(f"swarm{unique}/web", "1.0.0")
    image = f"{registry}/{pushed.repository}:1.0.0@{pushed.digest}"
    name = f"s{unique}"
    adapter = Swarm.from_env()
    try:
        yield adapter, name, image, pushed.digest
    finally:
        remove_stack(name)


def test_apply_converge_and_read_back_in_two_api_calls(stack: tuple[Swarm, str, str, str]) -> None:
    swarm, name, image, digest = stack
    assert swarm.deploy(name, COMPOSE.format(image=image, replicas=2), {"web": image, "idle": image}) == []
    report = Converger(swarm, poll=0.3).wait(name, {"web": digest, "idle": digest}, timeout=60)
    assert report.outcome == "converged" and not report.timed_out, report.message

    before = swarm.api_calls
    services = swarm.stacks([name])[name]
    assert swarm.api_calls - before == 2
    assert set(services) == {"web", "idle"}
    web = services["web"]
    assert web.name == f"{name}_web" and web.tenant == name and digest_of(web.image) == digest
    assert web.running == 2 and web.desired == 2 and web.running_digests == (digest,)
    assert services["idle"].desired == 0 and services["idle"].running == 0


def test_a_wait_that_cannot_converge_returns_within_its_bound(stack: tuple[Swarm, str, str, str]) -> None:
    swarm, name, image, _ = stack
    swarm.deploy(name, COMPOSE.format(image=image, replicas=1), {"web": image, "idle": image})
    report = Converger(swarm, poll=0.3).wait(name, {"web": "sha256:" + "0" * 64}, timeout=3)
    assert report.outcome == "failed" and "not converged within 3 s" in report.message and report.timed_out
    assert report.seconds < 10


def test_out_of_sequence_is_retried_once_then_reported(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 1, "", "Error response from daemon: rpc error: code = Unknown "
                                                         "desc = update out of sequence")

    swarm = Swarm(client=None, run=run)  # type: ignore[arg-type]
    with pytest.raises(SwarmError, match="update out of sequence"):
        swarm.deploy("acme", "version: '3.8'\n", {"web": "r/web:1@sha256:" + "a" * 64})
    assert len(calls) == 2
    assert calls[0][:3] == ["docker", "stack", "deploy"] and "--resolve-image" in calls[0]

    answers = iter([subprocess.CompletedProcess([], 1, "", "update out of sequence"),
                    subprocess.CompletedProcess([], 0, "Updating service acme_web\n", "")])
    swarm = Swarm(client=None, run=lambda argv, **kw: next(answers))  # type: ignore[arg-type]
    assert swarm.deploy("acme", "version: '3.8'\n", {}) == []       # nothing pinned: nothing read back
    assert next(answers, None) is None and swarm.api_calls == 0


def test_an_invalid_stack_is_one_clear_line(stack: tuple[Swarm, str, str, str]) -> None:
    swarm, name, _, _ = stack
    with pytest.raises(SwarmError) as err:
        swarm.deploy(name, "version: '3.8'\nservices:\n  web: {image: 42, deploy: nonsense}\n", {"web": "x"})
    assert str(err.value).startswith(f"docker stack deploy {name} failed: ") and "\n" not in str(err.value)


def test_deploy_sets_again_a_pin_swarm_kept_a_hand_set_image_over(registry: str,
                                                                  stack: tuple[Swarm, str, str, str]) -> None:
    swarm, name, image, digest = stack
    compose, references = COMPOSE.format(image=image, replicas=1), {"web": image, "idle": image}
    assert swarm.deploy(name, compose, references) == []
    repository = image.split("@")[0].removesuffix(":1.0.0")               # registry/swarm…/web
    Pusher(registry).push(repository.removeprefix(registry + "/"), "latest", "hand-set")
    latest = f"{repository}:latest"
    subprocess.run(["docker", "service", "update", "--detach", "--no-resolve-image", "--image", latest,
                    f"{name}_web"], check=True, capture_output=True)
    assert swarm.stack(name)["web"].image == latest

    # `docker stack deploy` alone keeps `latest` (the file's image is the one it last deployed); the adapter
    # reads the services once, sets web to its pin and says so.
    before = swarm.api_calls
    said = swarm.deploy(name, compose, references)
    assert swarm.api_calls - before == 1
    assert said == [f"web: Swarm kept {latest}, set outside the stack file, over the pin; set to the pin"]
    assert {s.short_name: s.image for s in swarm.stack(name).values()} == references
    report = Converger(swarm, poll=0.3).wait(name, {"web": digest, "idle": digest}, timeout=60)
    assert report.outcome == "converged", report.message
    assert swarm.deploy(name, compose, references) == []


def test_waits_sharing_reads_cost_one_read_a_round_for_every_tenant_and_never_a_read_from_before(
        stack: tuple[Swarm, str, str, str]) -> None:
    """A wave's deploys wait together: 4 stacks polled at once cost about one read (2 Engine calls) a poll round, not
    one a stack; and each wait is only served reads that started after it began (never its pre-apply state)."""
    import threading
    import time

    swarm, name, image, digest = stack
    names = [f"{name}-{i}" for i in range(4)]
    try:
        for n in names:
            swarm.deploy(n, COMPOSE.format(image=image, replicas=1), {"web": image, "idle": image})
        converger = Converger(swarm, poll=0.3)
        reports: dict[str, str] = {}
        before = swarm.api_calls
        with converger.sharing(names) as shared:
            begun = time.monotonic()
            waits = [threading.Thread(target=lambda n=n: reports.__setitem__(
                n, converger.wait(n, {"web": digest, "idle": digest}, timeout=60).outcome)) for n in names]
            for t in waits:
                t.start()
            for t in waits:
                t.join()
            # freshness: a look asked for after the newest read started gets a read of its own
            _, at = shared.stack(names[0], newer_than=begun)
            reads = shared.reads
            shared.stack(names[1], newer_than=at - 1e-6)        # that read is newer: served from it
            assert shared.reads == reads
            shared.stack(names[1], newer_than=at)               # not newer than what it saw: read again
            assert shared.reads == reads + 1
        assert reports == dict.fromkeys(names, "converged"), reports
        polls = swarm.api_calls - before
        took = time.monotonic() - begun
        # every look alone would cost 2 calls; the proof of each running container costs its own inspect; a wait
        # pending past 2 s reads the node list, one call every 2 s for all the waits together
        node_reads = int(took / 2) + 1
        assert polls <= 2 * converger.shared_reads + 4 * 2 + node_reads, (polls, converger.shared_reads,
                                                                          converger.shared_looks, took)
        # four waits that never converge, side by side for 1.5 s: far fewer reads than looks (alone: one each)
        with converger.sharing(names) as stuck:
            waits = [threading.Thread(target=lambda n=n: converger.wait(n, {"web": "sha256:" + "0" * 64},
                                                                        timeout=1.5)) for n in names]
            for t in waits:
                t.start()
            for t in waits:
                t.join()
        assert stuck.looks >= 4 * 5 and stuck.reads * 2 <= stuck.looks, (stuck.reads, stuck.looks)
    finally:
        for n in names:
            remove_stack(n)


def test_the_nodes_platforms_are_named_as_an_index_names_them(swarm: Any) -> None:
    import platform

    from bot.domain.platforms import node_platform

    adapter = Swarm.from_env()
    before = adapter.api_calls
    assert adapter.platforms() == {node_platform("linux", platform.machine())}   # this single node: linux/amd64
    assert adapter.api_calls - before == 1
