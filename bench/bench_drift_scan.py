"""Benchmark: one drift scan of many tenants -- Engine API calls, registry requests by kind, findings, wall time.

Run from the repo root: `.venv/bin/python bench/bench_drift_scan.py [--tenants 100] [--services 5] [--behind 1]`.
Setup creates the tenants' stacks (replicas 0: nothing to start, so nothing to wait for) from one template,
rendered per tenant by the domain `render` and applied with `docker stack deploy`, and records each tenant in
the store. `--behind K` then pushes a newer release of K repositories, so each tenant has K "behind" findings.
The first scan runs on a fresh context, as `tagpin drift` does; the second reuses it, as the watcher would
(the tag listings are then still in the client's cache). Exits 1 if setup failed or a scan found other than
the expected drift.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _support import (
    Workspace,
    best_pins,
    push_repos,
    remove_stacks,
    run_id,
    service_names,
    stack_deploy,
    template_text,
)

from bot.adapters.registry import RegistryClient
from bot.domain.stacks import Pin, render
from bot.service.context import Context
from bot.service.observe import Observer
from tests.support.oci import Pusher

TARGET_ENGINE_CALLS = 3
VERSIONS = ("1.0.0", "1.1.0")
NEWER = "1.2.0"


def setup(ws: Workspace, tenants: list[str], pins: Mapping[str, Pin], workers: int, created: list[str]) -> None:
    """Render and apply every tenant's stack, a few `docker stack deploy` at a time, printing progress."""
    ctx = ws.context()
    template = ctx.template()

    for name in tenants:  # serially: one SQLite file, and the store is not the subject here
        ctx.store.add_tenant(name, "bench")

    def one(name: str) -> None:
        created.append(name)  # before deploying: a half-created stack is still cleaned up
        stack_deploy(name, render(template, name, pins), ws.env)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(one, tenants), 1):
            if done % 10 == 0 or done == len(tenants):
                print(f"  setup: {done}/{len(tenants)} stacks deployed ({time.monotonic() - start:.0f} s)",
                      flush=True)


def scan(ctx: Context, label: str, expected: int, repos: int) -> bool:
    """One drift scan; print its figures; True if it found exactly the expected "behind" findings."""
    registry = ctx.registry
    assert isinstance(registry, RegistryClient)
    calls_before = ctx.swarm.api_calls if "swarm" in vars(ctx) else 0  # the engine is opened lazily
    requests_before = dict(registry.stats)
    start = time.monotonic()
    data: dict[str, Any] = Observer(ctx).drift(source="bench", actor="bench")
    wall = time.monotonic() - start
    calls = ctx.swarm.api_calls - calls_before
    sent = {k: v - requests_before.get(k, 0) for k, v in registry.stats.items() if v - requests_before.get(k, 0)}
    kinds: dict[str, int] = {}
    for finding in data["findings"]:
        kinds[finding["kind"]] = kinds.get(finding["kind"], 0) + 1
    print(f"{label}: {len(data['tenants'])} tenants scanned in {wall:.2f} s")
    print(f"  engine API calls:  {calls} (target <= {TARGET_ENGINE_CALLS}): "
          f"{'OK' if calls <= TARGET_ENGINE_CALLS else 'OVER TARGET'}")
    total = sum(sent.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(sent.items())) or "none"
    print(f"  registry requests: {total} ({detail}); repositories: {repos} (target = {repos}): "
          f"{'OK' if total <= repos else 'OVER TARGET'}")
    print(f"  findings:          {len(data['findings'])} {kinds or ''}".rstrip())
    if data["registry_notes"]:
        print(f"  registry notes:    {data['registry_notes']}")
    return kinds == ({"behind": expected} if expected else {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--behind", type=int, default=1, help="repositories given a newer release after setup")
    parser.add_argument("--workers", type=int, default=4, help="parallel `docker stack deploy` during setup")
    args = parser.parse_args()
    if not 0 <= args.behind <= args.services:
        parser.error("--behind must be between 0 and --services")

    run = run_id()
    prefix, names = f"bench{run}", service_names(args.services)
    tenants = [f"bs{run}-{i:03d}" for i in range(args.tenants)]
    print(f"run {run}: {args.tenants} tenants x {args.services} services (replicas 0), "
          f"{args.behind} repositories behind")
    pins = best_pins(push_repos(prefix, names, VERSIONS), VERSIONS[-1])
    ws = Workspace.create(template_text(prefix, names, 0), 60.0)
    created: list[str] = []
    ok = True
    try:
        setup(ws, tenants, pins, args.workers, created)
        pusher = Pusher("127.0.0.1:5000")
        for name in names[:args.behind]:
            pusher.push(f"{prefix}/{name}", NEWER, f"{name} {NEWER}")
        ctx = ws.context()
        expected = args.tenants * args.behind
        ok = scan(ctx, "first scan (fresh context, as `tagpin drift`)", expected, len(names))
        ok = scan(ctx, "second scan (same context, as the watcher)", expected, len(names)) and ok
        if not ok:
            print(f"FAILED: expected exactly {expected} 'behind' findings", file=sys.stderr)
    except Exception as exc:  # report, clean up, exit non-zero
        print(f"FAILED: {exc}", file=sys.stderr)
        ok = False
    finally:
        start = time.monotonic()
        ok = remove_stacks(created, timeout=300) and ok
        ws.remove()
        print(f"cleanup: {len(created)} stacks removed in {time.monotonic() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
