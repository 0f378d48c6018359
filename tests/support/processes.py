"""Real processes for tests: a free loopback port, and `tagpin bot` processes started and waited for until healthy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(ok: Callable[[], object], why: str | Callable[[], object], timeout: float = 60,
          poll: float = 0.1) -> float:
    """Poll `ok()` every `poll` s until it is true; the seconds it took, or fail the test with `why` (or `why()`:
    a process's log, read only then)."""
    start = time.monotonic()
    while not ok():
        assert time.monotonic() - start < timeout, why() if callable(why) else f"timed out waiting for {why}"
        time.sleep(poll)
    return time.monotonic() - start


def start_tagpin(argv: Sequence[str], env: Mapping[str, str], bind: str, port: int, log: Path,
                 timeout: float = 60, health: bool = True) -> subprocess.Popen[bytes]:
    """`python -m bot ARGV` with its health port on 127.0.0.1:port (the setting `bind` names), its output in `log`;
    returns once /healthz answers (fails the test with the log if it exits or never answers); health=False: a
    process without HTTP (`tagpin bot --role jobs`), returned once it started."""
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", *argv], cwd=ROOT,
                            env={**env, bind: f"127.0.0.1:{port}"}, stdout=out, stderr=out)
    out.close()                          # the child keeps its own descriptor
    if not health:
        return proc

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        except requests.ConnectionError:
            return False

    until(healthy, log.read_text, timeout, poll=0.2)
    return proc


def start_bot(env: Mapping[str, str], port: int, log: Path, timeout: float = 60) -> subprocess.Popen[bytes]:
    """`tagpin bot` serving Slack on 127.0.0.1:port."""
    return start_tagpin(["bot"], env, "TAGPIN_BIND", port, log, timeout)


@contextmanager
def running_bots(env: Mapping[str, str], logs: Path, count: int = 2) -> Iterator[list[int]]:
    """`count` bots on the same environment (so one store), each on a port of its own (yielded), logs in `logs`.
    On leaving, SIGTERM and wait: a bot drains its running work first, so what it acted on is recorded then."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = []
        for i in range(count):
            ports.append(free_port())
            procs.append(start_bot(env, ports[-1], logs / f"bot{i}.log"))
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


@contextmanager
def docker_registry(folder: Path, config: str, address: str, port: int) -> Iterator[str]:
    """The real `docker-registry serve` with `config` (its YAML) written to folder/registry.yml, listening on
    address:port; yields host:port. Its log (the access log included) is folder/registry.log."""
    import shutil

    from tests.conftest import unavailable

    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("registry", "no docker-registry binary (apt-get install docker-registry)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "registry.yml").write_text(config)
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen([str(binary), "serve", str(folder / "registry.yml")], stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection((address, port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"docker-registry did not listen on {port}: "
                                       f"{(folder / 'registry.log').read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield f"{address}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
