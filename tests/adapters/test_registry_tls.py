"""A registry with a private CA: the real docker-registry over HTTPS, trusted via TAGPIN_REGISTRY_CA or certs.d."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.registry import RegistryClient
from bot.domain.references import parse_reference
from bot.errors import RegistryError, RegistryUnavailable
from tests.support.oci import Pusher
from tests.support.tls import Pki, make_pki, tls_registry


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https_registry(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[str]:
    with tls_registry(tmp_path_factory.mktemp("registry"), pki) as host:
        Pusher(host, ca=str(pki.ca)).push("acme/app", "1.0.0")
        yield host


def test_untrusted_certificate_says_how_to_trust_it(https_registry: str, tmp_path: Path) -> None:
    with RegistryClient(certs_dir=tmp_path) as client, pytest.raises(RegistryUnavailable) as info:
        client.tags(parse_reference(f"{https_registry}/acme/app"))
    assert str(info.value) == (
        f"TLS failed for https://{https_registry}/v2/acme/app/tags/list: the registry's certificate is not "
        f"trusted: set TAGPIN_REGISTRY_CA=/path/to/ca.pem or put the CA in {tmp_path}/{https_registry}/ca.crt")
    assert "TAGPIN_INSECURE_REGISTRIES" not in str(info.value)


def test_tagpin_registry_ca_is_trusted(https_registry: str, pki: Pki, tmp_path: Path) -> None:
    with RegistryClient(ca_bundle=pki.ca, certs_dir=tmp_path) as client:
        image = parse_reference(f"{https_registry}/acme/app")
        assert client.tags(image) == ("1.0.0",)
        assert client.digest(image, "1.0.0") is not None


def test_docker_certs_d_ca_is_trusted_for_that_host_only(https_registry: str, pki: Pki, tmp_path: Path) -> None:
    (tmp_path / https_registry).mkdir()
    (tmp_path / https_registry / "ca.crt").write_bytes(pki.ca.read_bytes())
    with RegistryClient(certs_dir=tmp_path) as client:
        assert client.tags(parse_reference(f"{https_registry}/acme/app")) == ("1.0.0",)
    other = tmp_path / "elsewhere"
    (other / "127.0.0.1:1").mkdir(parents=True)
    (other / "127.0.0.1:1" / "ca.crt").write_bytes(pki.ca.read_bytes())
    with RegistryClient(certs_dir=other) as client, pytest.raises(RegistryUnavailable, match="not trusted"):
        client.tags(parse_reference(f"{https_registry}/acme/app"))


def test_a_ca_that_still_fails_is_named(https_registry: str, tmp_path: Path) -> None:
    wrong = make_pki(tmp_path / "other-ca").ca
    with RegistryClient(ca_bundle=wrong, certs_dir=tmp_path) as client, \
            pytest.raises(RegistryUnavailable, match=rf"not trusted: .* \(tried the public roots and {wrong}\)"):
        client.tags(parse_reference(f"{https_registry}/acme/app"))


def test_unreadable_ca_file_is_one_clear_error(https_registry: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with RegistryClient(ca_bundle=missing, certs_dir=tmp_path) as client, \
            pytest.raises(RegistryError, match=rf"cannot load the CA {missing} from TAGPIN_REGISTRY_CA"):
        client.tags(parse_reference(f"{https_registry}/acme/app"))


def test_the_cli_reads_tagpin_registry_ca(https_registry: str, pki: Pki, tmp_path: Path) -> None:
    tagpin = str(Path(sys.executable).with_name("tagpin"))
    env = {**os.environ, "HOME": str(tmp_path), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"}
    env.pop("TAGPIN_REGISTRY_CA", None)
    argv = [tagpin, "resolve", f"{https_registry}/acme/app", "--json"]
    refused = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert refused.returncode == 1
    assert "the registry's certificate is not trusted: set TAGPIN_REGISTRY_CA=" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = subprocess.run(argv, capture_output=True, text=True, env={**env, "TAGPIN_REGISTRY_CA": str(pki.ca)},
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tag"] == "1.0.0"


def test_a_certificate_for_another_name_says_so(https_registry: str, pki: Pki, tmp_path: Path) -> None:
    other_name = https_registry.replace("127.0.0.1", "localhost")  # the certificate names only IP 127.0.0.1
    with RegistryClient(ca_bundle=pki.ca, certs_dir=tmp_path) as client, \
            pytest.raises(RegistryUnavailable, match=r"the registry's certificate does not name localhost$"):
        client.tags(parse_reference(f"{other_name}/acme/app"))
