"""Slack re-sends a request it thinks timed out (X-Slack-Retry-Num), and a captured request can be replayed within
its 5-minute signature window: a request seen once -- by any bot process sharing the store -- is acknowledged, not
redone."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.errors import StoreError

log = logging.getLogger("tagpin.slack")
# Longer than Slack's signature window (5 min) and its event retries (after 1 and 5 minutes).
TTL = 600.0
Claim = Callable[[str, float], bool]          # (key, ttl) → True for the first caller only, across processes


def request_key(request: BoltRequest) -> str:
    """What identifies one user action across re-sends: trigger_id (commands, clicks), event_id, else the body."""
    body = request.body or {}
    key = body.get("trigger_id") or body.get("event_id")
    if key:
        return f"{body.get('type') or body.get('command') or 'request'}:{key}"[:200]
    return "body:" + hashlib.sha256(request.raw_body.encode()).hexdigest()


class Deduplicator:
    """Global bolt middleware: the first delivery runs; re-sends within `ttl` get an empty 200 and do nothing.
    The claim lives in the store (bot.service.confirmations.seen_requests), so a restart or a second process
    does not forget it."""

    def __init__(self, claim: Claim, ttl: float = TTL) -> None:
        self.claim, self.ttl = claim, ttl

    def __call__(self, req: BoltRequest, next_: Callable[[], None]) -> BoltResponse | None:
        if req.lazy_only:              # a job worker running what an acknowledging process claimed and stored
            next_()
            return None
        retry = next(iter(req.headers.get("x-slack-retry-num") or []), None)
        key = request_key(req)
        try:
            first = self.claim(key, self.ttl)
        except StoreError as exc:
            # The store is away: the work itself will say so (its lease needs the store); don't drop the request.
            log.warning("could not record request %s as seen: %s", key, exc)
            first = True
        if not first:
            log.info("ignored a re-sent request %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        next_()
        return None
