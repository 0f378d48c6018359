"""Real processes for tests: a free loopback port, and `tagpin bot` processes started and waited for until healthy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_bot(env: Mapping[str, str], port: int, log: Path, timeout: float = 60) -> subprocess.Popen[bytes]:
    """`python -m bot bot` on 127.0.0.1:port, its output in `log`; returns once /healthz answers (fails the test
    with the log if it exits or never answers)."""
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "bot"], cwd=ROOT,
                            env={**env, "TAGPIN_BIND": f"127.0.0.1:{port}"}, stdout=out, stderr=out)
    out.close()                          # the child keeps its own descriptor
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return proc
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


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
