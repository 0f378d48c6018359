"""Benchmark: one long-lived drift watcher over many tenants -- registry requests, Engine API calls, Slack calls.

Run from the repo root: `.venv/bin/python bench/bench_watch.py [--tenants 100] [--services 5] [--behind 1]
[--database sqlite|postgres|both]`.
Setup is bench_drift_scan's (stacks with replicas 0 on the real Swarm, tenants in the store), then `--behind`
repositories get a newer release. ONE Watcher (as the `tagpin watch` process) posts to the local Slack Web API
stand-in (in a process of its own, as Slack is elsewhere) and scans: 1. cold; 2. nothing changed; 3. after a newer
release of the same repositories (notices edited in place). Scans 2 and 3 run "one watch interval later" on a
skipped clock shared by the registry client and the watcher's digest memory, so the listing cache (60 s) has expired
as it would have between real scans (default interval 300 s) while the digests (900 s) are still remembered. With
`--database both` (the default) a new watcher does the three scans on a fresh SQLite file, then on a fresh
PostgreSQL database, over the same stacks (the second round's scan 3 pushes the next release, so it too edits every
notice). "store per notice" is the wall time spent in the notice store's calls during the scan divided by the
notices the scan carried out. Exits 1 only if setup or a scan raised; a missed target is printed, not fatal.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from _fleet import Fleet, parse, parser, run
from _support import SlackProcess, Timed, Workspace

from bot.adapters.registry import RegistryClient
from bot.service.context import Context
from bot.service.rows import NoticeRow
from bot.service.watching import Notifier, Watcher
from bot.service.watchregistry import WatchRegistry
from bot.slack.app import web_client
from bot.watch import make_watcher

TARGET_ENGINE_CALLS = 3
TARGET_STORE_MS = 3.0            # store time per notice carried out (issue 13)
CHANNEL = "CBENCH"
T = TypeVar("T")
TARGETS = {**{f"scan {n} (s)": ("ratio", 1.5) for n in (1, 2, 3)},
           **{f"scan {n}: store per notice (ms)": ("value", TARGET_STORE_MS) for n in (1, 3)}}


class SkippedClock:
    """Monotonic time plus a skip: "the next scan, one interval later" without waiting the interval."""

    def __init__(self) -> None:
        self.skip = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skip


class TimedNotifier:
    """Wraps the watcher's notifier to sum the time spent in Slack calls (the rest of a scan is ours)."""

    def __init__(self, inner: Notifier) -> None:
        self.inner, self.seconds = inner, 0.0

    def _timed(self, fn: Callable[[NoticeRow], T], notice: NoticeRow) -> T:
        start = time.monotonic()
        try:
            return fn(notice)
        finally:
            self.seconds += time.monotonic() - start

    def post(self, notice: NoticeRow) -> str:
        return self._timed(self.inner.post, notice)

    def update(self, notice: NoticeRow) -> None:
        self._timed(self.inner.update, notice)

    def remind(self, notice: NoticeRow) -> None:
        self._timed(self.inner.remind, notice)


@dataclass
class Bench:
    ctx: Context
    registry: RegistryClient
    watcher: Watcher
    notifier: TimedNotifier
    notices: Timed
    slack: SlackProcess
    repos: int


def long_lived_watcher(ws: Workspace, slack: SlackProcess, clock: SkippedClock) -> Bench:
    """The watcher `tagpin watch` builds, its registry client and digest memory reading the skipped clock."""
    ws.env["TAGPIN_DRIFT_CHANNEL"] = CHANNEL
    ctx = ws.context()
    s = ctx.settings
    registry = RegistryClient(insecure=s.insecure_registries, docker_config=s.docker_config,
                              cache_ttl=s.registry_cache_ttl, clock=clock)
    ctx.registry = registry
    watcher = make_watcher(ctx, web_client(slack.url, "xoxb-bench"))
    watcher.registry = WatchRegistry(registry, s.watch_digest_ttl, clock=clock)
    watcher.notifier = notifier = TimedNotifier(watcher.notifier)
    watcher.notices = notices = Timed(watcher.notices)  # sums the time spent in the notice store's calls
    return Bench(ctx, registry, watcher, notifier, notices, slack, 0)


def verdict(ok: bool) -> str:
    return "OK" if ok else "OVER TARGET"


def scan(b: Bench, label: str, quiet_expected: bool) -> tuple[float, float | None]:
    """One scan_once; print registry requests by kind, Engine API calls, Slack calls by method, findings, the
    notice store's time, wall time; return (wall s, store ms per notice carried out or None)."""
    engine_before = b.ctx.swarm.api_calls if "swarm" in vars(b.ctx) else 0  # the engine is opened lazily
    registry_before, slack_before = dict(b.registry.stats), len(b.slack.methods())
    b.notifier.seconds = 0.0
    b.notices.reset()
    start = time.monotonic()
    report = b.watcher.scan_once()
    wall = time.monotonic() - start
    engine = b.ctx.swarm.api_calls - engine_before
    sent = {k: v - registry_before.get(k, 0) for k, v in b.registry.stats.items() if v - registry_before.get(k, 0)}
    slack = Counter(b.slack.methods()[slack_before:])
    requests = sum(sent.values())
    told = slack["chat.postMessage"] + slack["chat.update"]
    print(f"{label}: {wall:.2f} s")
    print(f"  registry requests: {requests} ({', '.join(f'{k} {v}' for k, v in sorted(sent.items())) or 'none'})"
          f" (target = {b.repos} repositories): {verdict(requests <= b.repos)}")
    print(f"  engine API calls:  {engine} (target <= {TARGET_ENGINE_CALLS}): {verdict(engine <= TARGET_ENGINE_CALLS)}")
    methods = ", ".join(f"{m} {n}" for m, n in sorted(slack.items())) or "none"
    line = f"  Slack calls:       {sum(slack.values())} ({methods}; {b.notifier.seconds:.2f} s of the scan)"
    if quiet_expected:
        line += f" (target: 0 posts/updates when nothing changed): {verdict(told == 0)}"
    print(line)
    kinds = Counter(f.kind for f in report.findings)
    said = Counter(s["verb"] for s in report.said)
    print(f"  findings:          {len(report.findings)} {dict(kinds) or ''}".rstrip())
    print(f"  notices said:      {dict(said) or 'none'}" + (f"; FAILED {len(report.failed)}: {report.failed[:3]}"
                                                            if report.failed else ""))
    carried = len(report.said) + len(report.failed)
    per = 1000 * b.notices.total / carried if carried else None
    print(f"  notice store:      {1000 * b.notices.total:.1f} ms ({b.notices.breakdown()})"
          + (f"; {per:.2f} ms per notice (target <= {TARGET_STORE_MS:g}): {verdict(per <= TARGET_STORE_MS)}"
             if per is not None else ""))
    if report.registry_errors:
        print(f"  registry errors:   {report.registry_errors}")
    return wall, per


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--interval", type=float, default=None,
                   help="simulated seconds between scans (default: TAGPIN_WATCH_INTERVAL, 300)")
    args = parse(p)
    releases = (f"1.{minor}.0" for minor in itertools.count(3))  # each round's scan 3 pushes a release of its own

    def body(f: Fleet, kind: str, ws: Workspace) -> tuple[bool, dict[str, float]]:
        figures: dict[str, float] = {}

        def one(n: int, label: str, quiet_expected: bool) -> None:
            wall, per = scan(b, f"scan {n} ({label})", quiet_expected)
            figures[f"scan {n} (s)"] = wall
            if per is not None:
                figures[f"scan {n}: store per notice (ms)"] = per

        with SlackProcess() as slack:
            clock = SkippedClock()
            b = long_lived_watcher(ws, slack, clock)
            b.repos = len(f.names)
            interval = b.ctx.settings.watch_interval if args.interval is None else args.interval
            print(f"simulated interval between scans: {interval:.0f} s (listing cache "
                  f"{b.ctx.settings.registry_cache_ttl:.0f} s, digest memory {b.ctx.settings.watch_digest_ttl:.0f} s)")
            one(1, "cold: new watcher, releases to tell", quiet_expected=False)
            clock.skip += interval
            one(2, "nothing changed", quiet_expected=True)
            newest = next(releases)
            f.release(newest, args.behind)
            clock.skip += interval
            one(3, f"release {newest} of the {args.behind} behind repositories: notices edited in place",
                quiet_expected=args.behind == 0)
            b.registry.close()
        return True, figures

    return run(args, "bw", "; one long-lived watcher", body, TARGETS)


if __name__ == "__main__":
    raise SystemExit(main())
