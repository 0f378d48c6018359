"""Many tenants' stacks (replicas 0) from one template, for the scan benchmarks; removed again on any exit."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from _support import (
    DATABASES,
    REGISTRY,
    Workspace,
    best_pins,
    database,
    push_repos,
    remove_stacks,
    run_id,
    service_names,
    stack_deploy,
    template_text,
)

from bot.domain.stacks import Pin, render
from tests.support.oci import Pusher

VERSIONS = ("1.0.0", "1.1.0")
NEWER = "1.2.0"


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    p.add_argument("--tenants", type=int, default=100)
    p.add_argument("--services", type=int, default=5)
    p.add_argument("--behind", type=int, default=1, help="repositories given a newer release after setup")
    p.add_argument("--workers", type=int, default=4, help="parallel `docker stack deploy` during setup")
    p.add_argument("--database", choices=(*DATABASES, "both"), default="both",
                   help="the store the scans run on: a fresh SQLite file, a fresh PostgreSQL database, or both in "
                        "turn over the same stacks (default: both, then their ratio)")
    return p


def parse(p: argparse.ArgumentParser) -> argparse.Namespace:
    args = p.parse_args()
    if not 0 <= args.behind <= args.services:
        p.error("--behind must be between 0 and --services")
    return args


@dataclass
class Fleet:
    run: str
    prefix: str
    names: list[str]
    tenants: list[str]
    ws: Workspace
    pusher: Pusher = field(default_factory=lambda: Pusher(REGISTRY))
    created: list[str] = field(default_factory=list)
    cleaned: bool = False

    def release(self, tag: str, count: int) -> None:
        """Push `tag` to the first `count` repositories (their tenants fall behind)."""
        for name in self.names[:count]:
            self.pusher.push(f"{self.prefix}/{name}", tag, f"{name} {tag}")


def setup(ws: Workspace, tenants: list[str], pins: Mapping[str, Pin], workers: int, created: list[str]) -> None:
    """Render and apply every tenant's stack, a few `docker stack deploy` at a time, printing progress."""
    template = ws.context().template()

    def one(name: str) -> None:
        created.append(name)  # before deploying: a half-created stack is still cleaned up
        stack_deploy(name, render(template, name, pins), ws.env)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(one, tenants), 1):
            if done % 10 == 0 or done == len(tenants):
                print(f"  setup: {done}/{len(tenants)} stacks deployed ({time.monotonic() - start:.0f} s)",
                      flush=True)


# A body measures one database: (did it measure what it set out to, {figure: value}) for the comparison.
Body = Callable[[Fleet, str, Workspace], tuple[bool, dict[str, float]]]


def run(args: argparse.Namespace, tenant_prefix: str, what: str, body: Body,
        targets: Mapping[str, tuple[str, float]] | None = None) -> int:
    """A benchmark's exit code: 0 when `body` measured what it set out to on every database and every stack was
    removed. With both databases, prints each figure side by side and its postgres/sqlite ratio; `targets`
    maps a figure to ("ratio" or "value", limit) for a verdict (printed, never fatal)."""
    kinds = list(DATABASES) if args.database == "both" else [args.database]
    figures: dict[str, dict[str, float]] = {}
    ok = True
    try:
        with fleet(args, tenant_prefix, what) as f:
            for kind in kinds:
                with database(kind, f.ws.directory) as url:
                    ws = f.ws.using(url)
                    store = ws.context().store
                    for name in f.tenants:  # serially: the store is not the subject of the setup
                        store.add_tenant(name, "bench")
                    print(f"== {kind} ({store.safe_url})", flush=True)
                    measured, figures[kind] = body(f, kind, ws)
                    ok = ok and measured
                    store.engine.dispose()
    except Exception as exc:  # report (the fleet cleaned up), exit non-zero
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    compare(figures, targets or {})
    return 0 if ok and f.cleaned else 1


def compare(figures: Mapping[str, Mapping[str, float]], targets: Mapping[str, tuple[str, float]]) -> None:
    """Each figure on each database, the postgres/sqlite ratio, and the verdict against its target."""
    ratio_head = "  postgres/sqlite" if len(figures) > 1 else ""
    print(f"{'figure':<40}" + "".join(f"{kind:>12}" for kind in figures) + ratio_head)
    for name in next(iter(figures.values()), {}):
        line = f"{name:<40}" + "".join(f"{values.get(name, float('nan')):>12.2f}" for values in figures.values())
        ratio = None
        if len(figures) > 1 and figures["sqlite"].get(name):
            ratio = figures["postgres"].get(name, float("nan")) / figures["sqlite"][name]
            line += f"{ratio:>16.2f}x"
        kind_limit = targets.get(name)
        if kind_limit is not None:
            kind, limit = kind_limit
            if kind == "ratio" and ratio is not None:
                line += f"  (target <= {limit:g}x): {'OK' if ratio <= limit else 'OVER TARGET'}"
            elif kind == "value":
                worst = max(values.get(name, float("nan")) for values in figures.values())
                line += f"  (target <= {limit:g}): {'OK' if worst <= limit else 'OVER TARGET'}"
        print(line)


@contextmanager
def fleet(args: argparse.Namespace, tenant_prefix: str, what: str) -> Iterator[Fleet]:
    """Push the repositories, deploy every tenant, put `--behind` repositories behind; always clean up."""
    run = run_id()
    names = service_names(args.services)
    replicas = getattr(args, "replicas", 0)         # the scan benches look at specs: no task needed
    f = Fleet(run, f"bench{run}", names, [f"{tenant_prefix}{run}-{i:03d}" for i in range(args.tenants)],
              Workspace.create(template_text(f"bench{run}", names, replicas), 60.0))
    print(f"run {run}: {args.tenants} tenants x {args.services} services (replicas {replicas}) on {len(names)} "
          f"repositories, {args.behind} behind{what}")
    try:
        pins = best_pins(push_repos(f.prefix, names, VERSIONS), VERSIONS[-1])
        setup(f.ws, f.tenants, pins, args.workers, f.created)
        f.release(NEWER, args.behind)
        yield f
    finally:
        start = time.monotonic()
        f.cleaned = remove_stacks(f.created, timeout=300)
        f.ws.remove()
        print(f"cleanup: {len(f.created)} stacks removed in {time.monotonic() - start:.0f} s")
