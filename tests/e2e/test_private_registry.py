"""Deploys from a registry as production runs one, on the real Swarm: HTTPS with a private CA and htpasswd Basic auth,
the credentials in the deploying user's Docker config.json, handed to the nodes by `--with-registry-auth`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import ONE_APP, remove_stack
from tests.support.oci import Pusher
from tests.support.tls import docker_login, dockerd_trusts, make_htpasswd, make_pki, tls_registry

USER, PASSWORD = "deployer", "Pw-for-the-swarm-3"


@dataclass
class Private:
    host: str
    repo: str
    tenant: str
    env: dict[str, str]
    pusher: Pusher

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        tagpin = str(Path(".venv/bin/tagpin").resolve())
        return subprocess.run([tagpin, *argv], capture_output=True, text=True, env=self.env, timeout=300, check=False)

    def json(self, *argv: str) -> dict[str, object]:
        done = self.cli(*argv, "--json")
        assert done.returncode == 0, done.stderr
        answer: dict[str, object] = json.loads(done.stdout)
        return answer


@pytest.fixture
def private(swarm: object, tmp_path: Path, unique: str) -> Iterator[Private]:
    """An HTTPS + htpasswd registry trusted by dockerd and tagpin through certs.d only (no TAGPIN_REGISTRY_CA), the
    deploying user logged in to it (DOCKER_CONFIG), and a tenant whose template pulls from it."""
    pki = make_pki(tmp_path / "pki")
    with tls_registry(tmp_path / "registry", pki,
                      htpasswd=make_htpasswd(tmp_path / "htpasswd", {USER: PASSWORD})) as host, \
            dockerd_trusts(host, pki.ca):
        repo = f"private{unique}/app"
        template = tmp_path / "stack.yml"
        template.write_text(ONE_APP.format(registry=host, repo=repo))
        env = {k: v for k, v in os.environ.items() if k not in ("TAGPIN_REGISTRY_CA", "DOCKER_CONFIG")}
        env.update({"HOME": str(tmp_path), "DOCKER_CONFIG": str(docker_login(tmp_path / "docker", host, USER,
                                                                               PASSWORD)),
                    "TAGPIN_STACK_TEMPLATE": str(template), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}",
                    "TAGPIN_CONVERGE_TIMEOUT": "60", "TAGPIN_REGISTRY_CACHE_TTL": "0.001", "TAGPIN_ACTOR": "tester"})
        tenant = f"p{unique}"
        try:
            yield Private(host, repo, tenant, env, Pusher(host, ca=str(pki.ca), auth=(USER, PASSWORD)))
        finally:
            remove_stack(tenant)


def _local_repo_digests(service: str) -> list[list[str]]:
    """For each running container of a service (all on this one node): its image's RepoDigests."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"],
                         capture_output=True, text=True, check=True).stdout.split()
    found = []
    for container in ids:
        image = subprocess.run(["docker", "inspect", "--format", "{{.Image}}", container], capture_output=True,
                               text=True, check=True).stdout.strip()
        found.append(json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}",
                                                image], capture_output=True, text=True, check=True).stdout))
    return found


def test_deploy_from_an_https_registry_with_basic_auth_runs_the_pinned_digest(private: Private) -> None:
    private.pusher.push(private.repo, "1.0.0", f"{private.repo} 1.0.0")
    newest = private.pusher.push(private.repo, "1.1.0", f"{private.repo} 1.1.0").digest   # content of its own: pulled
    pinned = f"{private.host}/{private.repo}:1.1.0@{newest}"

    deployed = private.json("deploy", private.tenant, "--yes")
    assert deployed["outcome"] == "converged", deployed
    assert {s["name"]: s["to"] for s in deployed["services"]} == {"app": pinned}  # type: ignore[attr-defined]

    spec = subprocess.run(["docker", "service", "inspect", f"{private.tenant}_app", "--format",
                           "{{.Spec.TaskTemplate.ContainerSpec.Image}}"], capture_output=True, text=True, check=True)
    assert spec.stdout.strip() == pinned
    # The node pulled it, with the credentials `--with-registry-auth` handed over (without them: "No such image"):
    # each container's image is it. (dockerd skips verifying certificates of loopback registries, its default
    # insecure 127.0.0.0/8; certs.d is what lets tagpin itself in, and what a remote node would need.)
    assert _local_repo_digests(f"{private.tenant}_app") == [[f"{private.host}/{private.repo}@{newest}"]] * 2

    status = private.json("status", private.tenant)
    assert status["complete"] is True
    [app] = status["services"]  # type: ignore[misc]
    assert app["spec_reference"] == pinned and app["running_digests"] == [newest]
    assert app["replicas"] == {"running": 2, "desired": 2} and app["drift"] == []
    drift = private.json("drift", private.tenant)
    assert drift["findings"] == [] and drift["complete"] is True

    # The password changed under the watcher: drift cannot judge, and says so (exit 4), never "no drift".
    docker_login(Path(private.env["DOCKER_CONFIG"]), private.host, USER, "an-old-password")
    blind = private.cli("drift", private.tenant, "--json")
    assert blind.returncode == 4, blind.stderr
    report = json.loads(blind.stdout)
    assert report["complete"] is False
    assert [(f["kind"], f["running"]) for f in report["findings"]] == [("unknown", pinned)]
    assert f"{private.host} refused the credentials from {private.env['DOCKER_CONFIG']}/config.json" in \
        report["findings"][0]["detail"]
    assert "an-old-password" not in blind.stdout + blind.stderr


def test_a_password_changed_under_the_deployer_refuses_the_deploy_naming_the_registry(private: Private) -> None:
    private.pusher.push(private.repo, "1.0.0")
    docker_login(Path(private.env["DOCKER_CONFIG"]), private.host, USER, "an-old-password")

    refused = private.cli("deploy", private.tenant, "--yes")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: {private.host} refused the credentials from "
                                     f"{private.env['DOCKER_CONFIG']}/config.json for {private.repo}")
    assert "an-old-password" not in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
    left = subprocess.run(["docker", "service", "ls", "-q", "--filter",
                           f"label=com.docker.stack.namespace={private.tenant}"], capture_output=True, text=True,
                          check=True)
    assert left.stdout.strip() == ""            # nothing was applied
