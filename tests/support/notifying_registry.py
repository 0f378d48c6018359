"""The real Debian docker-registry on a free loopback port, sending its notifications to a tagpin watcher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import docker_registry, free_port


@contextmanager
def notifying_registry(folder: Path, url: str, token: str) -> Iterator[str]:
    """`docker-registry serve` (plain http, deletes enabled) whose one notifications endpoint is `url` with
    `Authorization: Bearer token`; yields host:port. Its log is folder/registry.log (the access log included)."""
    port = free_port()
    config = (
        "version: 0.1\nlog: {level: info}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        "notifications:\n  endpoints:\n"
        f"    - name: tagpin\n      url: {url}\n"
        f"      headers: {{Authorization: [Bearer {token}]}}\n"
        "      timeout: 2s\n      threshold: 3\n      backoff: 1s\n")
    with docker_registry(folder, config, "127.0.0.1", port) as host:
        yield host
