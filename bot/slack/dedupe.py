"""Slack re-sends a request it thinks timed out (X-Slack-Retry-Num); a request seen once is acknowledged, not redone."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger("tagpin.slack")


def request_key(request: BoltRequest) -> str:
    """What identifies one user action across re-sends: trigger_id (commands, clicks), event_id, else the body."""
    body = request.body or {}
    key = body.get("trigger_id") or body.get("event_id")
    if key:
        return f"{body.get('type') or body.get('command') or 'request'}:{key}"
    return "body:" + hashlib.sha256(request.raw_body.encode()).hexdigest()


class Deduplicator:
    """Global bolt middleware: the first delivery runs; re-sends within `ttl` get an empty 200 and do nothing."""

    def __init__(self, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, req: BoltRequest, next_: Callable[[], None]) -> BoltResponse | None:
        retry = next(iter(req.headers.get("x-slack-retry-num") or []), None)
        key = request_key(req)
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:       # bounded: old keys go first
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            seen = self._seen.get(key, 0.0) > now
            if not seen:
                self._seen[key] = now + self.ttl
        if seen:
            log.info("ignored a re-sent request %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        next_()
        return None
