"""Multi-arch images on the real Swarm: tagpin pins, proves and watches the OCI index digest, never a platform's."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.adapters.converge import Converger
from bot.adapters.swarm import Swarm
from tests.e2e.conftest import ONE_APP, remove_stack
from tests.support.oci import Pusher

PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass
class Multi:
    registry: str
    repo: str
    tenant: str
    env: dict[str, str]
    pusher: Pusher

    def push(self, tag: str, **contents: str) -> str:
        """A two-platform index; `contents` by arch (amd64=…, arm64=…) set each child's /VERSION."""
        default = f"{self.repo} {tag}"
        return self.pusher.push_index(self.repo, tag, platforms=PLATFORMS, contents={
            p: contents.get(p.split("/")[1], f"{default} {p}") for p in PLATFORMS}).digest

    def ref(self, tag: str, digest: str) -> str:
        return f"{self.registry}/{self.repo}:{tag}@{digest}"

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        tagpin = str(Path(".venv/bin/tagpin").resolve())
        return subprocess.run([tagpin, *argv, "--json"], capture_output=True, text=True, env=self.env, timeout=300,
                              check=False)

    def json(self, *argv: str, code: int = 0) -> dict[str, object]:
        done = self.cli(*argv)
        assert done.returncode == code, done.stderr
        answer: dict[str, object] = json.loads(done.stdout)
        return answer


@pytest.fixture
def multi(registry: str, swarm: object, tmp_path: Path, unique: str) -> Iterator[Multi]:
    repo = f"multi{unique}/app"
    template = tmp_path / "stack.yml"
    template.write_text(ONE_APP.format(registry=registry, repo=repo))
    env = {**os.environ, "HOME": str(tmp_path), "TAGPIN_STACK_TEMPLATE": str(template),
           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}", "TAGPIN_CONVERGE_TIMEOUT": "60",
           "TAGPIN_REGISTRY_CACHE_TTL": "0.001", "TAGPIN_ACTOR": "tester"}
    tenant = f"m{unique}"
    try:
        yield Multi(registry, repo, tenant, env, Pusher(registry))
    finally:
        remove_stack(tenant)


def _findings(multi: Multi, code: int) -> dict[str, tuple[str | None, str | None]]:
    drift = multi.json("drift", multi.tenant, "--exit-code", code=code)
    assert drift["complete"] is True
    return {f["kind"]: (f["running"], f["target"]) for f in drift["findings"]}  # type: ignore[attr-defined]


def test_the_index_digest_is_pinned_proven_and_watched(multi: Multi) -> None:
    first = multi.push("1.0.0")
    children = multi.pusher.children(multi.repo, first)
    assert set(children) == set(PLATFORMS) and first not in children.values()

    deployed = multi.json("deploy", multi.tenant, "--yes")
    assert deployed["outcome"] == "converged", deployed
    assert {s["name"]: s["to"] for s in deployed["services"]} == {"app": multi.ref("1.0.0", first)}  # type: ignore[attr-defined]

    status = multi.json("status", multi.tenant)
    [app] = status["services"]  # type: ignore[misc]
    assert (app["spec_reference"], app["running_digests"], app["drift"]) == (multi.ref("1.0.0", first), [first], [])
    assert app["available"]["digest"] == first and status["complete"] is True
    assert _findings(multi, 0) == {}

    # What dockerd records for a pull by index digest: RepoDigests name the index (the image itself is the
    # linux/amd64 child's config); the proof accepts exactly that, and refuses the child's digest.
    swarm = Swarm.from_env()
    svc = swarm.stack(multi.tenant)["app"]
    containers = [t.container_id for t in svc.tasks if t.state == "running" and t.container_id]
    assert len(containers) == 2
    for container in containers:
        assert swarm.local_repo_digests(container) == (f"{multi.registry}/{multi.repo}@{first}",)
    assert Converger(swarm).prove(svc, first) is True
    assert Converger(swarm).prove(svc, children["linux/amd64"]) is False

    # A new release, a new index: behind, and the target is the new index's digest.
    second = multi.push("1.1.0")
    assert _findings(multi, 3) == {"behind": (multi.ref("1.0.0", first), multi.ref("1.1.0", second))}

    # 1.0.0 re-pushed with only its arm64 image changed: the amd64 image this node runs is byte for byte the same,
    # but the index is not, so the tag moved (a per-platform comparison would call it unchanged).
    moved = multi.push("1.0.0", arm64="rebuilt for arm64 only")
    after = multi.pusher.children(multi.repo, moved)
    assert moved != first and after["linux/amd64"] == children["linux/amd64"]
    assert after["linux/arm64"] != children["linux/arm64"]
    assert _findings(multi, 3) == {"tag_moved": (multi.ref("1.0.0", first), multi.ref("1.0.0", moved)),
                                   "behind": (multi.ref("1.0.0", first), multi.ref("1.1.0", second))}

    upgraded = multi.json("deploy", multi.tenant, "--yes")
    assert upgraded["outcome"] == "converged", upgraded
    status = multi.json("status", multi.tenant)
    [app] = status["services"]  # type: ignore[misc]
    assert (app["running_digests"], app["drift"]) == ([second], [])
    assert _findings(multi, 0) == {}


def test_an_index_no_node_can_run_is_refused_before_anything_is_applied(multi: Multi) -> None:
    only_arm = multi.pusher.push_index(multi.repo, "1.0.0", platforms=("linux/arm64",)).digest

    refused = multi.cli("deploy", multi.tenant, "--yes")
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.strip() == (
        f"error: app: {multi.ref('1.0.0', only_arm)} is a multi-arch index with images for linux/arm64 only; this "
        "swarm's nodes are linux/amd64: no node could pull it -- nothing was deployed")
    left = subprocess.run(["docker", "service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace="
                           f"{multi.tenant}"], capture_output=True, text=True, check=True)
    assert left.stdout.strip() == ""                        # Swarm was never given the stack
    assert json.loads(multi.cli("tenants").stdout)["tenants"] == []

    both = multi.push("1.0.1")                              # the release built for both: deployed
    deployed = multi.json("deploy", multi.tenant, "--yes")
    assert deployed["outcome"] == "converged", deployed
    assert {s["name"]: s["to"] for s in deployed["services"]} == {"app": multi.ref("1.0.1", both)}  # type: ignore[attr-defined]
