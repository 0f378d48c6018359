"""`tagpin watch`: scan on an interval (jittered), post drift notices to TAGPIN_DRIFT_CHANNEL, never die of a scan;
/healthz, /readyz and /metrics on TAGPIN_WATCH_BIND."""

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
from bot.errors import TagpinError, UsageError
from bot.service.context import Context
from bot.service.watching import Watcher, WatchReport
from bot.slack.notifier import SlackNotifier

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

    def completed(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        """Seconds since the last completed scan; NaN before the first one."""
        return math.nan if self.last is None else time.monotonic() - self.last

    def check(self) -> str:
        age = time.monotonic() - (self.last if self.last is not None else self.started)
        what = "the last completed scan" if self.last is not None else "the start, with no completed scan,"
        if age > 3 * self.interval:
            raise RuntimeError(f"{what} was {age:.0f} s ago: more than 3 intervals ({3 * self.interval:g} s)")
        return f"{what} was {age:.0f} s ago"


def health_app(ctx: Context, freshness: Freshness) -> Flask:
    web = Flask("tagpin-watch")
    readiness = health.bot_checks(ctx, {"scan": freshness.check})
    health.add_routes(web, readiness)
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
    server = serve_health(bind, health_app(watcher.ctx, freshness)) if bind else None
    try:
        while not stop.is_set():
            if scan_safely(watcher) is not None:
                freshness.completed()
            stop.wait(interval * (0.9 + 0.2 * rand()))
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
