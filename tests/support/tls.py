"""A private CA made with the openssl CLI, and the real Debian docker-registry serving HTTPS with its cert (and, if
asked, htpasswd Basic auth)."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import unavailable
from tests.support.processes import docker_registry, free_port

# RFC 5280 shapes that strict verifiers accept: a CA that may sign (openssl.cnf's v3_ca plus keyUsage), and a
# leaf for serverAuth naming the registry's address (127.0.0.1 unless told).
_LEAF_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
             "extendedKeyUsage=serverAuth\nsubjectAltName=IP:{address}\n"
             "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")


@dataclass(frozen=True)
class Pki:
    ca: Path          # the CA certificate (PEM): what an operator points TAGPIN_REGISTRY_CA at
    cert: Path        # the server certificate, signed by ca
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(folder: Path, address: str = "127.0.0.1") -> Pki:
    """A test CA and a server certificate it signed for `address` (an IP)."""
    if shutil.which("openssl") is None:
        unavailable("openssl", "no openssl CLI (apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaf.ext").write_text(_LEAF_EXT.format(address=address))
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=tagpin test CA", "-keyout", "ca.key", "-out", "ca.crt",
             "-extensions", "v3_ca", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
             f"/CN={address}", "-keyout", "server.key", "-out", "server.csr", cwd=folder)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "leaf.ext", "-out", "server.crt", cwd=folder)
    return Pki(folder / "ca.crt", folder / "server.crt", folder / "server.key")


def make_htpasswd(path: Path, users: dict[str, str]) -> Path:
    """An htpasswd file as distribution's htpasswd auth reads it: `user:bcrypt-hash` lines (it takes bcrypt only)."""
    try:
        import bcrypt
    except ImportError:
        unavailable("registry", "no bcrypt module to write its htpasswd file (pip install -e '.[dev]')")

    path.write_text("".join(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                            for user, password in users.items()))
    return path


def docker_login(folder: Path, host: str, user: str, password: str) -> Path:
    """A DOCKER_CONFIG folder whose config.json holds what `docker login host` stores: auths.<host>.auth."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return folder


@contextmanager
def tls_registry(folder: Path, pki: Pki, *, htpasswd: Path | None = None, address: str = "127.0.0.1"
                 ) -> Iterator[str]:
    """`docker-registry serve` over HTTPS on a free port of `address` (loopback, or the swarm lab's bridge;
    deletes enabled), with `auth: htpasswd` when given one (every request then needs Basic credentials from it);
    yields host:port."""
    port = free_port()
    config = (
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {address}:{port}, tls: {{certificate: {pki.cert}, key: {pki.key}}}}}\n"
        + (f"auth: {{htpasswd: {{realm: tagpin-test, path: {htpasswd}}}}}\n" if htpasswd is not None else ""))
    with docker_registry(folder, config, address, port) as host:
        yield host


@contextmanager
def dockerd_trusts(host: str, ca: Path, certs_dir: Path = Path("/etc/docker/certs.d")) -> Iterator[Path]:
    """dockerd trusts `ca` for `host`: it reads certs.d/<host:port>/ca.crt at each pull, with no restart. Makes exactly
    that folder and removes it afterwards (certs.d as well, when this made it and nothing else is in it)."""
    folder = certs_dir / host
    made_certs_dir = not certs_dir.exists()
    try:
        folder.mkdir(parents=True)      # not exist_ok: never take over (and then delete) a folder someone else made
    except PermissionError as exc:
        unavailable("swarm", f"cannot create {folder} so that dockerd trusts the test CA: {exc}")
    try:
        shutil.copyfile(ca, folder / "ca.crt")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if made_certs_dir:
            with contextlib.suppress(OSError):      # someone else's folder appeared meanwhile: leave it
                certs_dir.rmdir()
