"""The multi-node tier: a 3-node Swarm (scripts/swarm-lab.sh), built by these tests and torn down after them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import unavailable
from tests.support.oci import Pusher

LAB = Path(__file__).resolve().parents[2] / "scripts" / "swarm-lab.sh"
TAGPIN = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "tagpin"
NODES = ("lab-manager", "lab-worker1", "lab-worker2")


@dataclass(frozen=True)
class Lab:
    env: dict[str, str]                   # what `swarm-lab.sh up` says to export
    registry: str                         # host:port every node pulls from

    def sock(self, node: str) -> str:
        return self.env[f"TAGPIN_LAB_{node.removeprefix('lab-').upper()}"]

    def node(self, node: str) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.sock(node), timeout=30)

    def docker(self, *argv: str, node: str = "lab-manager", check: bool = True) -> str:
        done = subprocess.run(["docker", "-H", self.sock(node), *argv], capture_output=True, text=True,
                              timeout=120, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(argv)} on {node}: {done.stderr.strip()}")
        return done.stdout

    def log(self, node: str) -> str:
        """What the node's dockerd has logged (swarm-lab.sh keeps it beside the node's data root)."""
        return Path(f"/var/lib/tagpin-lab/{node}.log").read_text(errors="replace")

    def script(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(LAB), *argv], capture_output=True, text=True, timeout=300, check=False)

    def wait_nodes(self, want: dict[str, str], timeout: float = 60) -> float:
        """Wait until each named node has the given manager-side state (ready, down); returns the seconds taken."""
        start = time.monotonic()
        while True:
            seen = dict(line.split() for line in self.docker(
                "node", "ls", "--format", "{{.Hostname}} {{.Status}}").splitlines())
            if all(seen.get(n, "").lower() == s for n, s in want.items()):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"nodes are {seen}, not {want} after {timeout:.0f} s")
            time.sleep(0.25)

    def block_registry(self, node: str) -> None:
        """Remove the node's route to the registry: its pulls fail, nothing else changes."""
        subprocess.run(["ip", "-n", node, "route", "replace", "unreachable", f"{self.registry.split(':')[0]}/32"],
                       check=True)

    def unblock_registry(self, node: str) -> None:
        subprocess.run(["ip", "-n", node, "route", "del", "unreachable", f"{self.registry.split(':')[0]}/32"],
                       capture_output=True, check=False)


def _exports(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            out[key] = value
    return out


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        unavailable("cluster", "the swarm lab needs root (network namespaces, dockerd)")
    was_up = subprocess.run(["bash", str(LAB), "status"], capture_output=True, check=False).returncode == 0
    started = time.monotonic()
    up = subprocess.run(["bash", str(LAB), "up"], capture_output=True, text=True, timeout=300, check=False)
    if up.returncode != 0:
        unavailable("cluster", f"scripts/swarm-lab.sh up failed: {up.stderr.strip()[-600:]}")
    env = _exports(up.stdout)
    print(f"\nswarm lab {'already up, repaired' if was_up else 'built'} in {time.monotonic() - started:.1f} s")
    try:
        yield Lab(env, env["TAGPIN_LAB_REGISTRY"])
    finally:
        if not was_up:
            started = time.monotonic()
            down = subprocess.run(["bash", str(LAB), "down"], capture_output=True, text=True, timeout=300,
                                  check=False)
            print(f"\nswarm lab torn down in {time.monotonic() - started:.1f} s (rc {down.returncode})")


@pytest.fixture
def healthy(lab: Lab) -> Iterator[Lab]:
    """The lab as a test found it, put back after: every node's dockerd up and Ready and Active, every route."""
    yield lab
    for node in NODES:
        lab.unblock_registry(node)
    lab.script("up")
    for node in NODES:
        lab.docker("node", "update", "--availability", "active", node, check=False)
    lab.wait_nodes({n: "ready" for n in NODES}, timeout=120)


@dataclass
class LabTenant:
    name: str
    lab: Lab
    prefix: str
    template: Path
    env: dict[str, str]
    pusher: Pusher

    def push(self, service: str, tag: str, content: str | None = None) -> str:
        return self.pusher.push(f"{self.prefix}/{service}", tag, content).digest

    def image(self, service: str) -> str:
        return f"{self.lab.registry}/{self.prefix}/{service}"

    def write(self, services: str) -> None:
        """The tenants' template: `services` is the YAML under services:, {image} names this tenant's repository."""
        self.template.write_text('version: "3.8"\nservices:\n' + services.replace("{image}", self.image("frontend"))
                                 + "networks:\n  hostnet: {external: true, name: host}\n")

    def cli(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(TAGPIN), *argv], capture_output=True, text=True, env=self.env, timeout=timeout,
                              check=False)

    def json(self, *argv: str) -> Any:
        done = self.cli(*argv, "--json")
        assert done.stdout, done.stderr
        return json.loads(done.stdout)

    def containers(self) -> dict[str, list[dict[str, Any]]]:
        """node → what each of its containers of this tenant runs: {image id, repo digests} (from its own dockerd)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for node in NODES:
            client = self.lab.node(node)
            try:
                found = client.api.containers(filters={"label": f"com.docker.stack.namespace={self.name}"})
                out[node] = [{"image_id": c["ImageID"],
                              "repo_digests": client.api.inspect_image(c["ImageID"]).get("RepoDigests") or []}
                             for c in found]
            finally:
                client.close()
        return out


@pytest.fixture
def lab_tenant(healthy: Lab, tmp_path: Path, unique: str) -> Iterator[LabTenant]:
    env = {**os.environ, **healthy.env, "TAGPIN_STACK_TEMPLATE": str(tmp_path / "stack.yml"),
           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}", "TAGPIN_CONVERGE_TIMEOUT": "60",
           "TAGPIN_REGISTRY_CACHE_TTL": "0.001", "TAGPIN_ACTOR": "tester", "HOME": str(tmp_path)}
    env.pop("DOCKER_CONTEXT", None)
    t = LabTenant(f"lab{unique}", healthy, f"lab{unique}", tmp_path / "stack.yml", env, Pusher(healthy.registry))
    try:
        yield t
    finally:
        healthy.docker("stack", "rm", t.name, check=False)
        for _ in range(60):
            if not healthy.docker("service", "ls", "-q", "--filter",
                                  f"label=com.docker.stack.namespace={t.name}", check=False).strip():
                break
            time.sleep(0.5)
