"""The real Debian docker-registry on a free loopback port, sending its notifications to a tagpin watcher."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import unavailable
from tests.support.processes import free_port


@contextmanager
def notifying_registry(folder: Path, url: str, token: str) -> Iterator[str]:
    """`docker-registry serve` (plain http, deletes enabled) whose one notifications endpoint is `url` with
    `Authorization: Bearer token`; yields host:port. Its log is folder/registry.log (the access log included)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("registry", "no docker-registry binary (apt-get install docker-registry)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: info}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        "notifications:\n  endpoints:\n"
        f"    - name: tagpin\n      url: {url}\n"
        f"      headers: {{Authorization: [Bearer {token}]}}\n"
        "      timeout: 2s\n      threshold: 3\n      backoff: 1s\n")
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen([str(binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"docker-registry did not listen on {port}: "
                                       f"{(folder / 'registry.log').read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
