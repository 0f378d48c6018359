"""Shared plumbing for the Swarm benchmarks: sample repositories, a template, a context, and stack clean-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make bot and tests importable

from bot.__main__ import build_context
from bot.config import Settings
from bot.domain.stacks import Pin
from bot.service.context import Context
from tests.support.oci import Pusher

# A bench with a registry of its own (bench_events.py: one that notifies the watcher) sets TAGPIN_BENCH_REGISTRY.
REGISTRY = os.environ.get("TAGPIN_BENCH_REGISTRY", "127.0.0.1:5000")
# scripts/services.sh --postgres: tagpin's own cluster on 127.0.0.1:5433 (the tests' default, tests/conftest.py).
POSTGRES = os.environ.get("TAGPIN_BENCH_POSTGRES", "postgresql+psycopg://tagpin:tagpin@127.0.0.1:5433/tagpin")
DATABASES = ("sqlite", "postgres")
NAMESPACE = "com.docker.stack.namespace"
# The services a tenant stack of the design runs; past five the names are numbered workers.
NAMES = ("database", "backend", "frontend", "proxy", "worker")


def run_id() -> str:
    """Six hex characters: keeps tenant names (≤ 31) and Swarm service names (≤ 63) short and unique per run."""
    return uuid.uuid4().hex[:6]


def service_names(count: int) -> list[str]:
    return [NAMES[i] if i < len(NAMES) else f"worker{i}" for i in range(count)]


def push_repos(prefix: str, names: Iterable[str], versions: Iterable[str]) -> dict[str, dict[str, str]]:
    """Push every version of every repository (distinct content, so distinct digests): {service: {tag: digest}}."""
    pusher = Pusher(REGISTRY)
    versions = list(versions)
    return {name: {tag: pusher.push(f"{prefix}/{name}", tag, f"{name} {tag}").digest for tag in versions}
            for name in names}


def template_text(prefix: str, names: Iterable[str], replicas: int) -> str:
    """A compose template like tests/e2e's: host network (no overlay per stack), sleeping busybox images.

    stop_grace_period is short because `sleep` as PID 1 ignores SIGTERM: clean-up would wait 10 s per task.
    """
    lines = ['version: "3.8"', "services:"]
    for name in names:
        lines += [f"  {name}:", f"    image: {REGISTRY}/{prefix}/{name}", '    x-tagpin: {constraint: ">=1.0.0"}',
                  '    environment: {TENANT: "${TENANT}"}', "    networks: [hostnet]",
                  "    stop_grace_period: 1s", f"    deploy: {{replicas: {replicas}}}"]
    lines += ["networks:", "  hostnet: {external: true, name: host}", ""]
    return "\n".join(lines)


@dataclass
class Workspace:
    """A temporary directory holding the template and the SQLite database, and the environment naming them."""

    directory: Path
    env: dict[str, str]

    @classmethod
    def create(cls, template: str, converge_timeout: float) -> Workspace:
        directory = Path(tempfile.mkdtemp(prefix="tagpin-bench-"))
        (directory / "stack.yml").write_text(template, encoding="utf-8")
        env = {**os.environ, "TAGPIN_STACK_TEMPLATE": str(directory / "stack.yml"),
               "TAGPIN_DATABASE_URL": f"sqlite:///{directory / 'tagpin.db'}",
               "TAGPIN_CONVERGE_TIMEOUT": str(converge_timeout), "TAGPIN_ACTOR": "bench",
               "HOME": str(directory)}
        return cls(directory, env)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def using(self, database_url: str) -> Workspace:
        """The same template and directory over another database."""
        return replace(self, env={**self.env, "TAGPIN_DATABASE_URL": database_url})

    def context(self) -> Context:
        """A fresh context, as one CLI invocation builds it (empty registry cache, lazy engine connection)."""
        return build_context(Settings.from_env(self.env))


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database of `kind` (sqlite: a file in `directory`; postgres: a database of its own in the
    POSTGRES cluster, dropped afterwards even with connections left open); yields its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tagpin_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class SlackProcess:
    """The local Slack Web API stand-in (LocalSlackAPI) in a process of its own, as Slack is elsewhere: its
    request threads then do not share the measured process's interpreter (its GIL, its allocator) and a figure
    like the store's time per notice is the store's. `methods()` lists the Web API methods called so far."""

    def __enter__(self) -> SlackProcess:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_serve_slack, args=(child,), name="local-slack-api", daemon=True)
        self._proc.start()
        self.url: str = self._conn.recv()
        return self

    def methods(self) -> list[str]:
        self._conn.send("methods")
        methods: list[str] = self._conn.recv()
        return methods

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)


def _serve_slack(conn: Any) -> None:
    from bot.slack.localapi import LocalSlackAPI

    with LocalSlackAPI() as api:
        conn.send(api.url)
        while conn.recv() != "stop":
            conn.send([c.method for c in api.calls])


class Timed:
    """Wraps a store or table to sum the wall time spent in its methods, per method (attributes pass through).
    What a method returns as a context manager (the notices' `telling`) counts too: its enter and exit under the
    method's name, and the calls on what it yields as `name().method`."""

    def __init__(self, inner: Any, prefix: str = "", parent: Timed | None = None) -> None:
        self.inner, self.prefix = inner, prefix
        self.seconds: defaultdict[str, float] = parent.seconds if parent else defaultdict(float)
        self.calls: Counter[str] = parent.calls if parent else Counter()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def _count(self, name: str, start: float) -> None:
        self.seconds[self.prefix + name] += time.perf_counter() - start
        self.calls[self.prefix + name] += 1

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = attr(*args, **kwargs)
            finally:
                self._count(name, start)
            return self._context(name, result) if hasattr(result, "__enter__") else result

        return timed

    @contextmanager
    def _context(self, name: str, inner: Any) -> Iterator[Any]:
        start = time.perf_counter()
        yielded = Timed(inner.__enter__(), f"{self.prefix}{name}().", self)
        self.seconds[self.prefix + name] += time.perf_counter() - start
        try:
            yield yielded
        finally:
            start = time.perf_counter()
            inner.__exit__(None, None, None)
            self.seconds[self.prefix + name] += time.perf_counter() - start

    def breakdown(self) -> str:
        return ", ".join(f"{name} {self.calls[name]}x {1000 * s:.1f} ms" for name, s in
                         sorted(self.seconds.items(), key=lambda kv: -kv[1])) or "none"


def best_pins(pushed: Mapping[str, Mapping[str, str]], tag: str) -> dict[str, Pin]:
    return {name: Pin(tag, tags[tag]) for name, tags in pushed.items()}


def stack_deploy(name: str, compose: str, env: Mapping[str, str] | None = None) -> None:
    """`docker stack deploy` as an operator would type it, images already pinned (so --resolve-image never)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix=f"bench-{name}-", delete=False) as f:
        f.write(compose)
    try:
        done = subprocess.run(["docker", "stack", "deploy", "--resolve-image", "never", "-c", f.name, name],
                              capture_output=True, text=True, check=False, env=dict(env or os.environ))
        if done.returncode != 0:
            raise RuntimeError(f"docker stack deploy {name} failed: {done.stderr.strip()}")
    finally:
        os.unlink(f.name)


def _left(names: set[str]) -> set[str]:
    """Which of the stacks still have services or containers (tenant names hold no "_": the prefix is the stack)."""
    left: set[str] = set()
    for argv in (["docker", "service", "ls", "--format", "{{.Name}}"],
                 ["docker", "ps", "-a", "--filter", f"label={NAMESPACE}", "--format", f'{{{{.Label "{NAMESPACE}"}}}}']):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()}")
        left |= names & {line.strip().split("_", 1)[0] for line in done.stdout.splitlines()}
    return left


def remove_stacks(names: Iterable[str], timeout: float = 180.0) -> bool:
    """`docker stack rm`, then wait until their services and containers are gone; False if some outlived timeout."""
    wanted = set(names)
    ordered = sorted(wanted)
    for i in range(0, len(ordered), 25):  # several stacks per call; a long argv is still fine
        subprocess.run(["docker", "stack", "rm", *ordered[i:i + 25]], capture_output=True, check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _left(wanted):
            return True
        time.sleep(0.5)
    left = _left(wanted)
    print(f"warning: stacks not fully removed after {timeout:.0f} s: {', '.join(sorted(left))}", file=sys.stderr)
    return False
