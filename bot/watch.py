"""`tagpin watch`: scan on an interval (jittered), post drift notices to TAGPIN_DRIFT_CHANNEL, never die of a scan;
/healthz, /readyz, /metrics and POST /registry/events (a push scans its services at once) on TAGPIN_WATCH_BIND."""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from slack_sdk import WebClient
from werkzeug.serving import BaseWSGIServer, make_server

from bot import health, metrics
from bot.errors import LockHeld, TagpinError, UsageError
from bot.service.context import Context
from bot.service.electing import Election, FencedNotifier
from bot.service.watching import Watcher, WatchReport
from bot.slack.notifier import SlackNotifier
from bot.watch_events import add_events_route, wait_scanning_pushes

log = logging.getLogger("tagpin.watch")


def make_watcher(ctx: Context, client: WebClient) -> Watcher:
    channel = ctx.settings.drift_channel
    if not channel:
        raise UsageError("set TAGPIN_DRIFT_CHANNEL to the Slack channel ID the watcher posts drift notices to")
    return Watcher(ctx, SlackNotifier(client, channel))


@dataclass
class Freshness:
    """When the last scan completed; stale -- not ready -- after three intervals without one (counted from the
    start until the first scan completes), which leaves room for jitter and a slow scan."""

    interval: float
    started: float = field(default_factory=time.monotonic)
    last: float | None = None
    standby: str | None = None           # why this watcher does not scan: another one is active
    blind: str | None = None             # why it can tell neither: the lease cannot be read

    def completed(self) -> None:
        self.last, self.standby, self.blind = time.monotonic(), None, None

    def standing_by(self, why: str) -> None:
        self.standby, self.blind, self.last, self.started = why, None, None, time.monotonic()

    def age(self) -> float:
        """Seconds since the last completed scan; NaN before the first one."""
        return math.nan if self.last is None else time.monotonic() - self.last

    def check(self) -> str:
        if self.blind is not None:       # neither scanning nor known to stand by: not an all-clear
            raise RuntimeError(self.blind)
        if self.standby is not None:
            return self.standby          # ready: a standby is healthy, and takes over when the active one dies
        age = time.monotonic() - (self.last if self.last is not None else self.started)
        what = "the last completed scan" if self.last is not None else "the start, with no completed scan,"
        if age > 3 * self.interval:
            raise RuntimeError(f"{what} was {age:.0f} s ago: more than 3 intervals ({3 * self.interval:g} s)")
        return f"{what} was {age:.0f} s ago"


def health_app(ctx: Context, freshness: Freshness, wake: threading.Event | None = None) -> Flask:
    web = Flask("tagpin-watch")
    readiness = health.bot_checks(ctx, {"scan": freshness.check})
    health.add_routes(web, readiness)
    add_events_route(web, ctx, wake or threading.Event())
    return web


def serve_health(bind: str, web: Flask) -> BaseWSGIServer:
    """The watcher's HTTP port in a daemon thread; a port it cannot take stops the start, said plainly."""
    host, port = health.split_bind("TAGPIN_WATCH_BIND", bind)
    try:
        server = make_server(host, port, web, threaded=True, request_handler=health.QuietHandler)
    except OSError as exc:
        raise UsageError(f"TAGPIN_WATCH_BIND={bind}: cannot listen there ({exc.strerror or exc})") from None
    threading.Thread(target=server.serve_forever, name="tagpin-watch-http", daemon=True).start()
    log.info("tagpin watch: health and metrics on http://%s/readyz", bind)
    return server


def scan_safely(watcher: Watcher) -> WatchReport | None:
    """One scan; an expected error is logged and the loop goes on, a bug is logged with a reference id."""
    try:
        report = watcher.scan_once()
    except TagpinError as exc:
        metrics.SCANS.labels(result="failed").inc()
        log.warning("scan failed: %s", exc)
        return None
    except Exception:
        metrics.SCANS.labels(result="failed").inc()
        log.exception("bug %s in a watcher scan; the watcher goes on", uuid.uuid4().hex[:8])
        return None
    metrics.SCANS.labels(result="incomplete" if report.unknown else "ok").inc()
    log.info("scan: %d findings, %d said, %d failed", len(report.findings), len(report.said), len(report.failed))
    return report


def run_forever(watcher: Watcher, interval: float, stop: threading.Event | None = None,
                rand: Callable[[], float] = random.random, bind: str | None = None) -> None:
    """Scan, then sleep interval ± 10 % (jitter keeps many watchers off one registry's second). A real Watcher
    serves its health port (`bind`, default TAGPIN_WATCH_BIND; "" for none) while it runs."""
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if threading.current_thread() is threading.main_thread():
            signal.signal(sig, lambda *_: stop.set())
    freshness = Freshness(interval)
    metrics.LAST_SCAN_AGE.set_function(freshness.age)
    if bind is None and isinstance(watcher, Watcher):
        bind = watcher.ctx.settings.watch_bind
    wake = threading.Event()                # a registry push this watcher received: scan its services now
    server = serve_health(bind, health_app(watcher.ctx, freshness, wake)) if bind else None
    election = elect(watcher, interval) if isinstance(watcher, Watcher) else None
    pushes_on = isinstance(watcher, Watcher) and watcher.ctx.settings.registry_events_token is not None
    try:
        while not stop.is_set():
            if election is not None and not stand_or_lead(election, freshness):
                stop.wait(election.poll)
                continue
            if scan_safely(watcher) is not None:
                freshness.completed()
            if pushes_on:
                wait_scanning_pushes(watcher, election, wake, stop, interval * (0.9 + 0.2 * rand()))
            else:
                stop.wait(interval * (0.9 + 0.2 * rand()))
    finally:
        if election is not None:
            resign(election)
        if server is not None:
            server.shutdown()
            server.server_close()


def elect(watcher: Watcher, interval: float) -> Election:
    """The watcher's claim to be the one that scans; its Slack calls are fenced by it."""
    election = Election(watcher.ctx.store, interval)
    watcher.notifier, watcher.fence = FencedNotifier(watcher.notifier, election), election.fence
    return election


def stand_or_lead(election: Election, freshness: Freshness) -> bool:
    """True when this watcher holds the lease and scans now; else it stands by (said once per change)."""
    try:
        active = election.active()
    except TagpinError as exc:              # the database is away: neither scan nor claim, say why, try again
        log.warning("cannot reach the watcher lease: %s", exc)
        metrics.WATCH_ACTIVE.set(0)
        freshness.blind = f"not scanning: the watcher lease cannot be read ({exc})"
        return False
    why = "" if active else election.standing_by()
    metrics.WATCH_ACTIVE.set(1 if active else 0)
    if active and (freshness.standby is not None or freshness.blind is not None):
        freshness.standby, freshness.blind, freshness.started = None, None, time.monotonic()   # 3 intervals from now
    elif not active:
        if freshness.standby is None:
            log.info("tagpin watch: %s; taking over when it stops", why)
        freshness.standing_by(why)
    return active


def scan_alone(watcher: Watcher) -> WatchReport:
    """One scan (`tagpin watch` without --interval), refused while a long-lived watcher is active: two watchers
    posting at once could tell the channel the same thing twice."""
    election = elect(watcher, watcher.ctx.settings.watch_interval)
    if not election.active():
        raise LockHeld(f"another watcher is running ({election.standing_by().removeprefix('standby: ')}); it "
                       f"posts the notices -- `tagpin drift` scans without posting")
    try:
        return watcher.scan_once()
    finally:
        resign(election)


def resign(election: Election) -> None:
    """Give the lease back on a clean stop, so a standby takes over at its next poll, not after the TTL."""
    try:
        election.resign()
    except TagpinError as exc:
        log.warning("could not release the watcher lease (it expires by itself): %s", exc)
    metrics.WATCH_ACTIVE.set(0)
