"""POST /registry/events on the watcher's port (registry notifications, bearer TAGPIN_REGISTRY_EVENTS_TOKEN), and
the wait between periodic scans that scans a pushed repository's services at once instead."""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, jsonify, request

from bot import metrics
from bot.domain.pushes import EnvelopeError, envelope_type
from bot.errors import TagpinError
from bot.service import pushing
from bot.service.context import Context
from bot.service.electing import Election
from bot.service.watching import Watcher

log = logging.getLogger("tagpin.watch")

# A registry's envelope is a few kilobytes an event; a body beyond this is refused unread.
MAX_BODY = 1 << 20
# After a push wakes the watcher, it waits this long for the rest of a burst (a multi-arch push is several events,
# a CI job pushes many tags), so one scan covers them.
COALESCE = 0.2
# How often the active watcher looks in the store for pushes a standby received (its own wake it at once).
STORE_POLL = 1.0


def _answer(status: int, message: str, **extra: object) -> Response:
    resp = jsonify({"error" if status >= 400 else "status": message, **extra})
    resp.status_code = status
    metrics.REGISTRY_EVENT_POSTS.labels(status=str(status)).inc()
    return resp


def _authorized(token: str, header: str) -> bool:
    scheme, _, given = header.partition(" ")
    # compare_digest takes the same time wherever the strings differ: a wrong token says nothing about the right one
    return hmac.compare_digest(given.strip().encode(), token.encode()) and scheme.lower() == "bearer"


def add_events_route(web: Flask, ctx: Context, wake: threading.Event) -> None:
    @web.post("/registry/events")
    def registry_events() -> Response:
        token = ctx.settings.registry_events_token
        if token is None:
            return _answer(404, "registry events are off: set TAGPIN_REGISTRY_EVENTS_TOKEN (or _FILE) on the watcher "
                                "and the same bearer token in the registry's notifications endpoint")
        if not _authorized(token, request.headers.get("Authorization", "")):
            resp = _answer(401, "missing or wrong bearer token (Authorization: Bearer <TAGPIN_REGISTRY_EVENTS_TOKEN>)")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="tagpin registry events"'
            return resp
        if (request.content_length or 0) > MAX_BODY:
            return _answer(413, f"the body is larger than {MAX_BODY} bytes")
        refused = envelope_type(request.content_type)
        if refused is not None:
            return _answer(415, refused)
        body = request.stream.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return _answer(413, f"the body is larger than {MAX_BODY} bytes")
        try:
            received = pushing.receive(ctx, body)
        except EnvelopeError as exc:
            return _answer(400, str(exc))
        except TagpinError as exc:         # the store or the template: the registry sends it again (it retries)
            log.warning("registry event not taken: %s", exc)
            return _answer(503, f"not taken, send it again: {exc}")
        if received.accepted:
            log.info("registry push: %s", ", ".join(received.accepted))
            wake.set()
        return _answer(202, "accepted", **received.as_dict())


# A push whose scan could not judge it (the registry down) is tried again after this long, not every STORE_POLL.
RETRY = 10.0


class _Quiet:
    """One warning a minute while the store cannot be read (the active watcher looks every second), and no
    retry of a push the registry could not be asked about before RETRY has passed."""

    until = 0.0
    retry_at = 0.0


def scan_pushed(watcher: Watcher) -> bool:
    """Scan the services whose repositories were pushed (taken from the store); False when none were."""
    try:
        services, pushed = pushing.due(watcher.ctx)
    except TagpinError as exc:
        if time.monotonic() >= _Quiet.until:
            _Quiet.until = time.monotonic() + 60
            log.warning("cannot read the registry pushes waiting in the store (retrying every %g s): %s",
                        STORE_POLL, exc)
        return False
    if not services:
        return bool(pushed)
    try:
        report = watcher.scan_once(only=services)
    except TagpinError as exc:
        log.warning("scan after a registry push failed (tried again in %g s): %s", RETRY, exc)
        return _again(watcher, pushed, "failed")
    except Exception:                      # a bug: logged with a reference, the watcher goes on
        log.exception("bug %s in a scan after a registry push; the watcher goes on", uuid.uuid4().hex[:8])
        return _again(watcher, pushed, "failed")
    log.info("scan of %s after a push of %s: %d findings, %d said", ", ".join(sorted(services)),
             pushing.said(pushed), len(report.findings), len(report.said))
    if report.unknown:
        return _again(watcher, pushed, "incomplete")
    metrics.EVENT_SCANS.labels(result="ok").inc()
    return True


def _again(watcher: Watcher, pushed: pushing.Taken, result: str) -> bool:
    metrics.EVENT_SCANS.labels(result=result).inc()
    _Quiet.retry_at = time.monotonic() + RETRY
    try:
        pushing.again(watcher.ctx, pushed)
    except TagpinError as exc:             # the next periodic scan is then the one that sees them
        log.warning("could not keep the pushes %s for another try: %s", pushing.said(pushed), exc)
    return False


def wait_scanning_pushes(watcher: Watcher, election: Election | None, wake: threading.Event,
                         stop: threading.Event, seconds: float,
                         clock: Callable[[], float] = time.monotonic) -> None:
    """Wait `seconds` (until the next periodic scan), scanning pushed repositories as their events come: at once
    for a push this watcher received, within STORE_POLL for one a standby stored. Only while this watcher holds
    the lease: a standby leaves the pushes in the store for the active one."""
    until = clock() + seconds
    while not stop.is_set() and (left := until - clock()) > 0:
        woken = wake.wait(min(left, STORE_POLL))
        if stop.is_set():
            return
        if woken:
            stop.wait(COALESCE)            # the rest of the burst lands in the store meanwhile: one scan for it
        wake.clear()
        leading = election is None or (election.lease is not None and not election.lease.lost.is_set())
        if not leading:
            return                         # the lease is lost: back to the election now, not at the interval
        if woken or clock() >= _Quiet.retry_at:
            scan_pushed(watcher)
