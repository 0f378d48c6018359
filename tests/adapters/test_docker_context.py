"""One engine for every call: docker contexts made by the real CLI, read by the Swarm adapter and its CLI calls."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import certifi
import pytest

from bot.adapters.docker_context import resolve
from bot.adapters.swarm import Swarm
from bot.errors import SwarmError

SOCKET = "/var/run/docker.sock"
DEAD = "unix:///nonexistent.sock"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with its own DOCKER_CONFIG (and HOME), so no context of the machine leaks in."""
    (tmp_path / "home").mkdir()
    (tmp_path / "cfg").mkdir()
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "DOCKER_CONFIG": str(tmp_path / "cfg")}


@pytest.fixture
def link() -> Iterator[Path]:
    """The real engine's socket through another path (short: a socket path has a 108-byte limit)."""
    folder = Path(tempfile.mkdtemp(prefix="tp-", dir="/tmp"))
    path = folder / "d.sock"
    path.symlink_to(SOCKET)
    try:
        yield path
    finally:
        shutil.rmtree(folder)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def create(env: dict[str, str], name: str, docker_opts: str) -> None:
    done = cli(env, "context", "create", name, "--docker", docker_opts)
    assert done.returncode == 0, done.stderr


def test_a_context_on_a_dead_socket_fails_naming_it_instead_of_reading_the_local_engine(
        swarm: Any, home: dict[str, str]) -> None:
    create(home, "dead", f"host={DEAD}")
    env = {**home, "DOCKER_CONTEXT": "dead"}
    assert cli(env, "info").returncode != 0          # the CLI honours the context: `docker stack deploy` would fail
    with pytest.raises(SwarmError) as caught:
        Swarm.from_env(env)
    assert "docker context 'dead'" in str(caught.value)
    assert DEAD in str(caught.value)
    assert "from DOCKER_CONTEXT" in str(caught.value)


def test_a_context_through_a_symlink_serves_reads_and_the_cli(swarm: Any, home: dict[str, str], link: Path) -> None:
    create(home, "linked", f"host=unix://{link}")
    adapter = Swarm.from_env({**home, "DOCKER_CONTEXT": "linked"})
    assert adapter.client.info()["Swarm"]["LocalNodeState"] == "active"
    assert isinstance(adapter.stacks(), dict)
    assert adapter.environ["DOCKER_HOST"] == f"unix://{link}"
    assert "DOCKER_CONTEXT" not in adapter.environ
    done = cli(adapter.environ, "info", "--format", "{{.Swarm.LocalNodeState}}")
    assert (done.returncode, done.stdout.strip()) == (0, "active"), done.stderr
    # The CLI really goes through the context's path: without the link it cannot reach the engine.
    link.unlink()
    done = cli(adapter.environ, "info", "--format", "{{.Swarm.LocalNodeState}}")
    assert done.returncode != 0 and str(link) in done.stderr


def test_current_context_in_config_json_is_honoured(swarm: Any, home: dict[str, str], link: Path) -> None:
    create(home, "dead", f"host={DEAD}")
    create(home, "linked", f"host=unix://{link}")
    config = Path(home["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"currentContext": "dead"}))
    with pytest.raises(SwarmError) as caught:
        Swarm.from_env(home)
    assert "docker context 'dead'" in str(caught.value) and DEAD in str(caught.value)
    assert f"currentContext in {config}" in str(caught.value)
    # DOCKER_CONTEXT=default beats currentContext, as in the CLI; the CLI env then pins the local socket.
    adapter = Swarm.from_env({**home, "DOCKER_CONTEXT": "default"})
    assert adapter.environ["DOCKER_HOST"] == f"unix://{SOCKET}" and "DOCKER_CONTEXT" not in adapter.environ
    assert cli(adapter.environ, "info").returncode == 0
    config.write_text(json.dumps({"currentContext": "linked"}))
    adapter = Swarm.from_env(home)
    assert adapter.client.info()["Swarm"]["LocalNodeState"] == "active"
    assert adapter.environ["DOCKER_HOST"] == f"unix://{link}"
    assert cli(adapter.environ, "context", "show").stdout.strip() == "default"   # config.json no longer decides


def test_an_unreadable_config_json_is_said_not_guessed(home: dict[str, str]) -> None:
    config = Path(home["DOCKER_CONFIG"]) / "config.json"
    config.write_text("{not json")
    with pytest.raises(SwarmError) as caught:
        Swarm.from_env(home)
    assert str(caught.value).startswith(f"cannot read {config} to find the current docker context")


def test_an_unknown_context_is_one_clear_error(swarm: Any, home: dict[str, str]) -> None:
    env = {**home, "DOCKER_CONTEXT": "nosuch"}
    assert "not found" in cli(env, "info").stderr    # the CLI refuses it too
    with pytest.raises(SwarmError) as caught:
        Swarm.from_env(env)
    assert str(caught.value) == ("docker context 'nosuch' does not exist (DOCKER_CONTEXT); "
                                 "`docker context ls` lists them")


def test_docker_host_wins_over_docker_context_as_in_the_cli(swarm: Any, home: dict[str, str], link: Path) -> None:
    create(home, "dead", f"host={DEAD}")
    env = {**home, "DOCKER_HOST": f"unix://{link}", "DOCKER_CONTEXT": "dead"}
    assert cli(env, "info").returncode == 0          # docker/cli resolveContextName: DOCKER_HOST means "default"
    adapter = Swarm.from_env(env)
    assert adapter.client.info()["Swarm"]["LocalNodeState"] == "active"
    assert adapter.environ["DOCKER_HOST"] == f"unix://{link}" and "DOCKER_CONTEXT" not in adapter.environ
    assert "DOCKER_CONTEXT 'dead' ignored" in resolve(env).describe()


class _Engine(http.server.BaseHTTPRequestHandler):
    """A TLS listener that wants a client certificate and notes who came with which; it answers 503."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def _answer(self) -> None:
        peer = self.connection.getpeercert() or {}
        subject = dict(pair[0] for pair in peer.get("subject", ()))
        self.seen.append((self.headers.get("User-Agent", ""), subject.get("commonName", "")))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(params=["verified", "skip-tls-verify"])
def tls_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path, bool]]:
    """tcp://127.0.0.1:PORT of a TLS endpoint, the folder of its certificate (also the CA and client cert), and
    whether the context skips verification: then the certificate names another address, so only a skip passes."""
    skip = request.param == "skip-tls-verify"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=tagpin",
                    "-addext", f"subjectAltName=IP:{'127.0.0.2' if skip else '127.0.0.1'}",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    tls.load_verify_locations(tmp_path / "cert.pem")
    tls.verify_mode = ssl.CERT_REQUIRED              # no client certificate, no request: proves the material went
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    _Engine.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}", tmp_path, skip
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")   # the skip case: expected
def test_a_tls_context_sends_the_sdk_and_the_cli_to_one_host_with_its_material(
        swarm: Any, home: dict[str, str], tls_engine: tuple[str, Path, bool], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Common on CI and in corporate images; requests would let it replace the context's CA (docker-py#2433).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    host, certs, skip = tls_engine
    create(home, "tls", f"host={host},ca={certs / 'cert.pem'},cert={certs / 'cert.pem'},key={certs / 'key.pem'}"
                        f"{',skip-tls-verify=true' if skip else ''}")
    # Stray TLS variables must not reach either client: a context carries its own material.
    env = {**home, "DOCKER_CONTEXT": "tls", "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": "/elsewhere"}
    with pytest.raises(SwarmError) as caught:
        Swarm.from_env(env)
    assert "docker context 'tls'" in str(caught.value) and host in str(caught.value)
    cli_env = resolve(env).cli_environ(env)
    assert cli_env["DOCKER_HOST"] == host and "DOCKER_CONTEXT" not in cli_env
    assert ("DOCKER_TLS_VERIFY" in cli_env) is not skip
    assert cli(cli_env, "info").returncode != 0       # the fake engine answers 503
    agents = {agent.split("/")[0]: name for agent, name in _Engine.seen}
    assert agents.get("docker-sdk-python") == "tagpin", _Engine.seen    # the SDK came, verified, with the cert
    assert agents.get("Docker-Client") == "tagpin", _Engine.seen        # and so did the CLI
