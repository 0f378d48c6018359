"""A real tenant on the real Swarm and registry: unique repositories, template, database and stack per test."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import build_context
from bot.config import Settings
from bot.service.context import Context
from tests.support import images
from tests.support.oci import Pusher

TEMPLATE = """\
version: "3.8"
services:
  frontend:
    image: {registry}/{prefix}/frontend
    x-tagpin: {{constraint: ">=1.0.0 <2.0.0"}}
    environment: {{TENANT: "${{TENANT}}"}}
    networks: [hostnet]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      update_config: {{parallelism: 2, monitor: 2s}}
  backend:
    image: {registry}/{prefix}/backend
    networks: [hostnet]
    stop_grace_period: 1s
networks:
  hostnet: {{external: true, name: host}}
"""

# One service `app` from {registry}/{repo}, any 1.x, two replicas: for tests of one image's path to the nodes.
ONE_APP = """\
version: "3.8"
services:
  app:
    image: {registry}/{repo}
    x-tagpin: {{constraint: "^1"}}
    networks: [hostnet]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      update_config: {{parallelism: 2, monitor: 1s}}
networks:
  hostnet: {{external: true, name: host}}
"""


@dataclass
class Tenant:
    name: str
    prefix: str
    registry: str
    template: Path
    env: dict[str, str]
    pusher: Pusher
    ctx: Context

    def repo(self, service: str) -> str:
        return f"{self.prefix}/{service}"

    def image(self, service: str) -> str:
        return f"{self.registry}/{self.prefix}/{service}"

    def push(self, service: str, tag: str, content: str | None = None, **kw: Any) -> str:
        return self.pusher.push(self.repo(service), tag, content, **kw).digest

    def fresh_context(self) -> Context:
        return build_context(Settings.from_env(self.env))

    def cli(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(Path(".venv/bin/tagpin").resolve()), *argv], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)


def remove_stack(name: str) -> None:
    subprocess.run(["docker", "stack", "rm", name], capture_output=True, check=False)
    for _ in range(60):
        left = subprocess.run(["docker", "service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}"],
                              capture_output=True, text=True, check=False).stdout.strip()
        if not left:
            return
        time.sleep(0.5)


@pytest.fixture
def tenant(registry: str, swarm: object, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch,
           database_url: str) -> Iterator[Tenant]:
    """A tenant of its own on the real Swarm and registry, its store a fresh SQLite file -- and, the same test
    again, a fresh PostgreSQL database."""
    import os

    prefix = f"e2e{unique}"
    template = tmp_path / "stack.yml"
    template.write_text(TEMPLATE.format(registry=registry, prefix=prefix))
    env = {**os.environ, "TAGPIN_STACK_TEMPLATE": str(template),
           "TAGPIN_DATABASE_URL": database_url, "TAGPIN_CONVERGE_TIMEOUT": "60",
           "TAGPIN_REGISTRY_CACHE_TTL": "0.001", "TAGPIN_ACTOR": "tester", "HOME": str(tmp_path)}
    name = f"t{unique}"
    t = Tenant(name, prefix, registry, template, env, Pusher(registry), build_context(Settings.from_env(env)))
    try:
        yield t
    finally:
        remove_stack(name)


@pytest.fixture(scope="session")
def image(swarm: object, registry: str) -> str:
    """tagpin's image of this source (scripts/image.sh), pushed: repo:tag@sha256:…"""
    return images.build(registry)


@pytest.fixture(scope="session")
def postgres_image(swarm: object, registry: str) -> str:
    """scripts/image.sh postgres: Debian's postgresql-15 as an image, pushed as tagpin/postgres:<15.x>@sha256:…"""
    return images.build(registry, "postgres")
