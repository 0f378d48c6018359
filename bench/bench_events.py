"""Benchmark: registry push events -- push-to-notice latency in Slack, and registry requests per hour with and
without events.

Run from the repo root: `.venv/bin/python bench/bench_events.py [--tenants 100] [--services 5] [--pushes 5]
[--interval 300] [--pushes-per-hour 12] [--database sqlite|postgres|both]`.
A registry of the bench's own (the Debian docker-registry on a free loopback port; 127.0.0.1:5000 is not touched)
notifies `tagpin watch` (a real process, interval 600 s, TAGPIN_REGISTRY_EVENTS_TOKEN) on the fleet of
bench_drift_scan (stacks with replicas 0, none behind). 1. Latency: `--pushes` times, a new release of one
repository is pushed; the time from the push's last request (its manifest PUT answered) to the first notice and to
the last of the tenants' notices in the local Slack Web API stand-in (its own process). 2. Registry requests per
hour, counted by tagpin's own client (tagpin_registry_requests_total's counter): ONE in-process Watcher over the
same fleet and registry, one simulated hour on a skipped clock (as bench_watch.py): without events, a full scan
every `--interval` X; with events, a full scan every 10 X plus, for each of `--pushes-per-hour` pushes of a new
release (one repository each, in turn), the scan a push event starts (only that repository's services). The
listing cache (60 s) and the digest memory (900 s) read the skipped clock, so they expire as in a real hour.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.notifying_registry import notifying_registry
from tests.support.processes import free_port, start_tagpin, until
from tests.support.prom import scrape, value

TOKEN = "bench-events-token"
CHANNEL = "CBENCH"
TARGET_LATENCY = 2.0


def main() -> int:
    import tempfile

    watch_port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="tagpin-bench-registry-"))
    with notifying_registry(folder, f"http://127.0.0.1:{watch_port}/registry/events", TOKEN) as host:
        os.environ["TAGPIN_BENCH_REGISTRY"] = host        # before _support reads it: the fleet lives there
        return bench(host, watch_port, folder)


def bench(host: str, watch_port: int, folder: Path) -> int:
    from _fleet import Fleet, parse, parser, run
    from _support import SlackProcess, Workspace
    from bench_watch import SkippedClock

    from bot.adapters.registry import RegistryClient
    from bot.service.watchregistry import WatchRegistry
    from bot.slack.app import web_client
    from bot.watch import make_watcher

    p = parser(__doc__)
    p.add_argument("--pushes", type=int, default=5, help="pushes timed for the latency")
    p.add_argument("--interval", type=float, default=300.0, help="X: the periodic interval without events")
    p.add_argument("--pushes-per-hour", type=int, default=12, help="releases pushed in the simulated hour")
    p.set_defaults(behind=0, database="sqlite")
    args = parse(p)
    releases = iter(f"1.{minor}.0" for minor in range(3, 10_000))

    def latency(f: Fleet, ws: Workspace, slack: SlackProcess) -> dict[str, float]:
        env = {**ws.env, "TAGPIN_DRIFT_CHANNEL": CHANNEL, "SLACK_BOT_TOKEN": "xoxb-bench",
               "TAGPIN_SLACK_API_URL": slack.url, "TAGPIN_REGISTRY_EVENTS_TOKEN": TOKEN}
        log = folder / f"watch-{time.monotonic_ns()}.log"
        proc = start_tagpin(["watch", "--interval", "600"], env, "TAGPIN_WATCH_BIND", watch_port, log)
        firsts, lasts = [], []
        try:
            url = f"http://127.0.0.1:{watch_port}"
            until(lambda: value(scrape(url), "tagpin_watch_scans_total", result="ok") >= 1, log.read_text, 120)
            time.sleep(2)                                                     # and the setup's events scanned
            def told() -> int:
                return sum(m in ("chat.postMessage", "chat.update") for m in slack.methods())

            for _ in range(args.pushes):
                before = told()
                tag = next(releases)
                f.release(tag, 1)
                first = until(lambda b=before: told() > b, log.read_text, 60, poll=0.02)   # type: ignore[misc]
                last = first + until(lambda b=before: told() >= b + len(f.tenants),        # type: ignore[misc]
                                     log.read_text, 120, poll=0.02)
                firsts.append(first)
                lasts.append(last)
                print(f"  push {f.names[0]}:{tag}: first notice {first:.2f} s, all {len(f.tenants)} tenants' "
                      f"{last:.2f} s after the push", flush=True)
                time.sleep(1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        p50, worst = statistics.median(firsts), max(firsts)
        print(f"push-to-notice (first notice): p50 {p50:.2f} s, max {worst:.2f} s over {len(firsts)} pushes "
              f"(target <= {TARGET_LATENCY:g} s): {'OK' if worst <= TARGET_LATENCY else 'OVER TARGET'}")
        print(f"push-to-notice (every tenant's notice): p50 {statistics.median(lasts):.2f} s, max {max(lasts):.2f} s")
        return {"latency first p50 (s)": p50, "latency first max (s)": worst,
                "latency all p50 (s)": statistics.median(lasts), "latency all max (s)": max(lasts)}

    def hour(f: Fleet, ws: Workspace, slack: SlackProcess, interval: float, pushes: int) -> int:
        """Registry requests of one simulated hour: full scans every `interval`, `pushes` event scans."""
        ws.env["TAGPIN_DRIFT_CHANNEL"] = CHANNEL
        ctx = ws.context()
        clock = SkippedClock()
        registry = RegistryClient(insecure=ctx.settings.insecure_registries, cache_ttl=ctx.settings.registry_cache_ttl,
                                  clock=clock)
        ctx.registry = registry
        watcher = make_watcher(ctx, web_client(slack.url, "xoxb-bench"))
        watcher.registry = WatchRegistry(registry, ctx.settings.watch_digest_ttl, clock=clock)
        plan = [(t * interval, "scan") for t in range(int(3600 // interval) + (3600 % interval > 0))]
        plan += [(3600 * (i + 0.5) / pushes, "push") for i in range(pushes)]
        start, full, events = time.monotonic(), 0, 0
        for n, (at, what) in enumerate(sorted(plan)):
            clock.skip = at - (time.monotonic() - start)
            if what == "scan":
                watcher.scan_once()
                full += 1
            else:
                name = f.names[n % len(f.names)]
                f.pusher.push(f"{f.prefix}/{name}", next(releases), f"{name} {n}")
                watcher.scan_once(only={name})        # what the push event starts (its services alone)
                events += 1
        sent = sum(v for k, v in registry.stats.items() if k != "rate_limit_wait")
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(registry.stats.items()) if v)
        print(f"  interval {interval:g} s, {pushes} pushes: {full} full scans + {events} event scans = {sent} registry "
              f"requests in the hour ({kinds})", flush=True)
        registry.close()
        return sent

    def body(f: Fleet, kind: str, ws: Workspace) -> tuple[bool, dict[str, float]]:
        with SlackProcess() as slack:
            figures = latency(f, ws, slack)
            without = hour(f, ws, slack, args.interval, 0)
            with_events = hour(f, ws, slack, 10 * args.interval, args.pushes_per_hour)
        print(f"registry requests per hour: {without} at interval {args.interval:g} s without events; {with_events} "
              f"at {10 * args.interval:g} s with events and {args.pushes_per_hour} pushes an hour "
              f"({with_events / without:.2f}x)")
        figures.update({"requests/h without events": without, "requests/h with events (10x)": with_events})
        return True, figures

    print(f"registry {host} notifying http://127.0.0.1:{watch_port}/registry/events")
    return run(args, "be", "; registry push events", body, {"latency first max (s)": ("value", TARGET_LATENCY)})


if __name__ == "__main__":
    raise SystemExit(main())
