"""Real processes for tests: a free loopback port, and a `tagpin bot` started and waited for until it is healthy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping
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
