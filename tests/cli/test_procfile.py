"""The Procfile names commands on PATH (no `.venv/bin/…`), and its `web` process serves the snippet."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_commands_are_on_path_not_in_a_venv_folder() -> None:
    for line in (ROOT / "Procfile").read_text().splitlines():
        _, _, command = line.partition(":")
        assert ".venv" not in command, line
        assert command.split()[0] in ("gunicorn", "tagpin"), line


def test_honcho_starts_the_web_process_from_path(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "TAGPIN_RECOVERY_BIND": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(["honcho", "start", "web"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/recovery.js", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "honcho's web process never listened"
                time.sleep(0.3)
        assert answer.status_code == 200 and "TagpinRecovery" in answer.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
