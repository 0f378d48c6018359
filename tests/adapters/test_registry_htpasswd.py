"""A registry as production runs one: the real docker-registry over HTTPS with a private CA and htpasswd Basic auth,
its credentials in a Docker config.json as `docker login` writes it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.registry import RegistryClient
from bot.domain.references import parse_reference
from bot.errors import RegistryAuthError
from tests.support.oci import Pusher
from tests.support.tls import Pki, docker_login, make_htpasswd, make_pki, tls_registry

USER, PASSWORD = "deployer", "s3cret-Pw-9"
WRONG = "not-the-Pw-7"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[tuple[str, dict[str, str]]]:
    """host:port of an HTTPS + htpasswd registry holding acme/app 1.0.0, 1.1.0, 2.0.0 (a two-platform index), and
    the digests pushed."""
    folder = tmp_path_factory.mktemp("private-registry")
    with tls_registry(folder, pki, htpasswd=make_htpasswd(folder / "htpasswd", {USER: PASSWORD})) as host:
        pusher = Pusher(host, ca=str(pki.ca), auth=(USER, PASSWORD))
        digests = {"1.0.0": pusher.push("acme/app", "1.0.0").digest,
                   "1.1.0": pusher.push("acme/app", "1.1.0").digest,
                   "2.0.0": pusher.push_index("acme/app", "2.0.0", platforms=("linux/amd64", "linux/arm64")).digest}
        yield host, digests


def test_the_registry_really_demands_credentials(private_registry: tuple[str, dict[str, str]], pki: Pki) -> None:
    host, _ = private_registry
    anonymous = Pusher(host, ca=str(pki.ca)).http.get(f"https://{host}/v2/", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="tagpin-test"'


def test_tags_and_digests_through_https_and_basic_auth(private_registry: tuple[str, dict[str, str]], pki: Pki,
                                                       tmp_path: Path) -> None:
    host, digests = private_registry
    config = docker_login(tmp_path / "docker", host, USER, PASSWORD) / "config.json"
    with RegistryClient(ca_bundle=pki.ca, certs_dir=tmp_path, docker_config=config) as client:
        image = parse_reference(f"{host}/acme/app")
        assert set(client.tags(image)) == {"1.0.0", "1.1.0", "2.0.0", "2.0.0-amd64-child"}
        assert {tag: client.digest(image, tag) for tag in digests} == digests
        assert client.stats["probe"] == 1          # https is found once; Basic is then sent up front


def test_wrong_password_is_one_error_naming_the_registry_never_the_password(
        private_registry: tuple[str, dict[str, str]], pki: Pki, tmp_path: Path) -> None:
    host, _ = private_registry
    config = docker_login(tmp_path / "docker", host, USER, WRONG) / "config.json"
    with RegistryClient(ca_bundle=pki.ca, certs_dir=tmp_path, docker_config=config) as client, \
            pytest.raises(RegistryAuthError) as info:
        client.tags(parse_reference(f"{host}/acme/app"))
    assert str(info.value) == (f"{host} refused the credentials from {config} for acme/app "
                               "(wrong, expired or lacking pull access)")


def test_no_credentials_says_to_docker_login(private_registry: tuple[str, dict[str, str]], pki: Pki,
                                             tmp_path: Path) -> None:
    host, _ = private_registry
    with RegistryClient(ca_bundle=pki.ca, certs_dir=tmp_path, docker_config=tmp_path / "absent.json") as client, \
            pytest.raises(RegistryAuthError) as info:
        client.digest(parse_reference(f"{host}/acme/app"), "1.0.0")
    assert str(info.value) == (f"{host} requires credentials for acme/app (or it does not exist): "
                               f"run `docker login {host}`")


def _resolve(host: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tagpin = str(Path(sys.executable).with_name("tagpin"))
    return subprocess.run([tagpin, "resolve", f"{host}/acme/app", "--constraint", "^1", "--json"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def test_the_cli_reads_docker_config_and_tagpin_registry_ca(private_registry: tuple[str, dict[str, str]], pki: Pki,
                                                            tmp_path: Path) -> None:
    host, digests = private_registry
    env = {**os.environ, "HOME": str(tmp_path), "TAGPIN_REGISTRY_CA": str(pki.ca),
           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"}
    env.pop("DOCKER_CONFIG", None)

    anonymous = _resolve(host, env)                       # HOME has no .docker/config.json
    assert anonymous.returncode == 1, anonymous.stderr
    assert anonymous.stderr.strip().endswith(f"run `docker login {host}`")
    assert "Traceback" not in anonymous.stderr

    wrong = _resolve(host, {**env, "DOCKER_CONFIG": str(docker_login(tmp_path / "wrong", host, USER, WRONG))})
    assert wrong.returncode == 1
    assert f"{host} refused the credentials from {tmp_path / 'wrong' / 'config.json'}" in wrong.stderr
    assert WRONG not in wrong.stderr + wrong.stdout
    assert base64.b64encode(f"{USER}:{WRONG}".encode()).decode() not in wrong.stderr + wrong.stdout

    done = _resolve(host, {**env, "DOCKER_CONFIG": str(docker_login(tmp_path / "right", host, USER, PASSWORD))})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["tag"], answer["digest"]) == ("1.1.0", digests["1.1.0"])
    assert answer["reference"] == f"{host}/acme/app:1.1.0@{digests['1.1.0']}"

    docker_login(tmp_path / ".docker", host, USER, PASSWORD)        # no DOCKER_CONFIG: ~/.docker/config.json
    by_home = _resolve(host, env)
    assert by_home.returncode == 0, by_home.stderr
    assert json.loads(by_home.stdout)["digest"] == digests["1.1.0"]
