"""Every node of the lab pulls from an HTTPS registry with htpasswd Basic auth, with the deployer's credentials
(`--with-registry-auth`): the lab's registry address is not loopback, so each node's dockerd really verifies the
certificate (certs.d) and really needs the credentials -- the control without them is refused on every node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.conftest import NODES, Lab, LabTenant
from tests.support.oci import Pusher
from tests.support.tls import docker_login, dockerd_trusts, make_htpasswd, make_pki, tls_registry

USER, PASSWORD = "lab-deployer", "Pw-for-3-nodes"


@pytest.fixture
def private(lab_tenant: LabTenant, tmp_path: Path) -> Iterator[tuple[LabTenant, str]]:
    address = lab_tenant.lab.registry.split(":")[0]          # the lab bridge's host end
    pki = make_pki(tmp_path / "pki", address)
    with tls_registry(tmp_path / "registry", pki, address=address,
                      htpasswd=make_htpasswd(tmp_path / "htpasswd", {USER: PASSWORD})) as host, \
            dockerd_trusts(host, pki.ca):
        t = lab_tenant
        t.lab = Lab(t.lab.env, host)             # the tenant's images come from the private registry
        t.pusher = Pusher(host, ca=str(pki.ca), auth=(USER, PASSWORD))
        t.env["DOCKER_CONFIG"] = str(docker_login(tmp_path / "docker", host, USER, PASSWORD))
        t.env.pop("TAGPIN_REGISTRY_CA", None)
        yield t, host


def test_every_node_pulls_with_the_deployers_credentials(private: tuple[LabTenant, str]) -> None:
    t, host = private
    target = t.push("frontend", "1.0.0", "private release")
    t.write("""\
  frontend:
    image: {image}
    x-tagpin: {constraint: "^1"}
    networks: [hostnet]
    stop_grace_period: 1s
    deploy:
      mode: global
""")
    # The control: the same pin as a service without credentials is rejected by every node, and each node's own
    # dockerd says why: it reached the registry over verified TLS and was asked for credentials it did not have.
    control = f"{t.name}-control"
    t.lab.docker("service", "create", "--detach", "--name", control, "--mode", "global", "--network", "host",
                 "--no-resolve-image", f"{t.image('frontend')}:1.0.0@{target}")
    try:
        deadline = time.monotonic() + 60
        while True:
            errors = t.lab.docker("service", "ps", control, "--format", "{{.Node}} {{.CurrentState}}")
            rejected = {line.split()[0] for line in errors.splitlines() if "Rejected" in line}
            if rejected == set(NODES):
                break
            assert time.monotonic() < deadline, errors
            time.sleep(0.5)
    finally:
        t.lab.docker("service", "rm", control, check=False)
    wanted = f"https://{host}/v2/{t.prefix}/frontend/manifests/{target}" + '\\": no basic auth credentials'
    for node in NODES:
        assert wanted in t.lab.log(node), node

    done = t.cli("deploy", t.name, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    running = t.containers()
    for node in NODES:
        assert [c["repo_digests"] for c in running[node]] == [[f"{host}/{t.prefix}/frontend@{target}"]], running
    seen = {task["node"]: task["digest"] for task in t.json("status", t.name)["services"][0]["tasks"]}
    assert seen == dict.fromkeys(NODES, target)
