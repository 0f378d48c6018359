"""`tagpin watch`: scan on an interval (jittered), post drift notices to TAGPIN_DRIFT_CHANNEL, never die of a scan."""

from __future__ import annotations

import logging
import random
import signal
import threading
import uuid
from collections.abc import Callable

from slack_sdk import WebClient

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


def scan_safely(watcher: Watcher) -> WatchReport | None:
    """One scan; an expected error is logged and the loop goes on, a bug is logged with a reference id."""
    try:
        report = watcher.scan_once()
    except TagpinError as exc:
        log.warning("scan failed: %s", exc)
        return None
    except Exception:
        log.exception("bug %s in a watcher scan; the watcher goes on", uuid.uuid4().hex[:8])
        return None
    log.info("scan: %d findings, %d said, %d failed", len(report.findings), len(report.said), len(report.failed))
    return report


def run_forever(watcher: Watcher, interval: float, stop: threading.Event | None = None,
                rand: Callable[[], float] = random.random) -> None:
    """Scan, then sleep interval ± 10 % (jitter keeps many watchers off one registry's second)."""
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if threading.current_thread() is threading.main_thread():
            signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        scan_safely(watcher)
        stop.wait(interval * (0.9 + 0.2 * rand()))
