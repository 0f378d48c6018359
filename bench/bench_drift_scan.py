"""Benchmark: one drift scan of many tenants -- Engine API calls, registry requests by kind, findings, wall time.

Run from the repo root: `.venv/bin/python bench/bench_drift_scan.py [--tenants 100] [--services 5] [--behind 1]
[--database sqlite|postgres|both]`.
Setup creates the tenants' stacks (replicas 0: nothing to start, so nothing to wait for) from one template,
rendered per tenant by the domain `render` and applied with `docker stack deploy`, and records each tenant in
the store. `--behind K` then pushes a newer release of K repositories, so each tenant has K "behind" findings.
The first scan runs on a fresh context, as `tagpin drift` does; the second reuses it, as the watcher would
(the tag listings are then still in the client's cache). Both scans run on each `--database` in turn (default
both: a fresh SQLite file, then a fresh PostgreSQL database, over the same stacks), with the time spent in the
store's calls; then each figure side by side with its postgres/sqlite ratio. Exits 1 if setup failed or a scan
found other than the expected drift.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from _fleet import Fleet, parse, parser, run
from _support import Timed, Workspace

from bot.adapters.registry import RegistryClient
from bot.service.context import Context
from bot.service.observe import Observer

TARGET_ENGINE_CALLS = 3
TARGETS = {"first scan (s)": ("ratio", 1.5), "second scan (s)": ("ratio", 1.5)}


def scan(ctx: Context, label: str, expected: int, repos: int) -> tuple[bool, float, float]:
    """One drift scan; print its figures; (found exactly the expected "behind" findings, wall s, store ms)."""
    registry, store = ctx.registry, ctx.store
    assert isinstance(registry, RegistryClient) and isinstance(store, Timed)
    store.reset()
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
    print(f"  store:             {1000 * store.total:.1f} ms ({store.breakdown()})")
    if data["registry_notes"]:
        print(f"  registry notes:    {data['registry_notes']}")
    return kinds == ({"behind": expected} if expected else {}), wall, 1000 * store.total


def main() -> int:
    args = parse(parser(__doc__))

    def body(f: Fleet, kind: str, ws: Workspace) -> tuple[bool, dict[str, float]]:
        ctx = ws.context()
        ctx.store = Timed(ctx.store)  # sums the time spent in the store's calls
        expected = args.tenants * args.behind
        ok1, wall1, store1 = scan(ctx, "first scan (fresh context, as `tagpin drift`)", expected, len(f.names))
        ok2, wall2, store2 = scan(ctx, "second scan (same context, as the watcher)", expected, len(f.names))
        if not (ok1 and ok2):
            print(f"FAILED: expected exactly {expected} 'behind' findings", file=sys.stderr)
        return ok1 and ok2, {"first scan (s)": wall1, "second scan (s)": wall2,
                             "first scan: store (ms)": store1, "second scan: store (ms)": store2}

    return run(args, "bs", "", body, TARGETS)


if __name__ == "__main__":
    raise SystemExit(main())
