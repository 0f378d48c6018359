"""One active watcher: a lease in the store elects it, any other `tagpin watch` waits as standby and takes over
within one interval when the active one dies; a watcher that lost its lease stops before its next Slack call."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from bot.errors import LeaseLost, LockHeld
from bot.service.ports import Lease, Store
from bot.service.rows import NoticeRow
from bot.service.watching import Notifier

log = logging.getLogger("tagpin.watch")

# The watcher's lease lives beside the tenants' deploy leases; no tenant can be called this (names are DNS labels).
WATCH_LEASE = "~watcher"


def lease_ttl(interval: float) -> float:
    """Half an interval, within 1 s and 60 s: a standby polling four times per TTL takes over well within one
    interval of the active watcher's death, and a long interval still does not leave the channel unwatched
    for more than about a minute after it."""
    return max(1.0, min(60.0, interval / 2))


def holder_name() -> str:
    return f"watch@{socket.gethostname()}:{os.getpid()}"


class Election:
    """This process's claim to be the active watcher. `active()` before each scan; `fence()` before each write."""

    def __init__(self, store: Store, interval: float, holder: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.holder, self.clock = store, holder or holder_name(), clock
        self.ttl = lease_ttl(interval)
        self.poll = self.ttl / 4                # how often a standby tries to take over
        self.lease: Lease | None = None
        self._checked = 0.0

    def active(self) -> bool:
        """Hold the lease, taking it when it is free or expired; False while another watcher holds it."""
        if self.lease is not None:
            try:
                self.lease.check("scanning")
                self._checked = self.clock()
                return True
            except LeaseLost:
                log.warning("watcher lease lost to another watcher; standing by")
                self.lease = None
        try:
            self.lease = self.store.lease(WATCH_LEASE, self.holder, self.ttl)
        except LockHeld:
            return False
        self._checked = self.clock()
        log.info("active watcher: %s holds the watcher lease (TTL %g s)", self.holder, self.ttl)
        return True

    def standing_by(self) -> str:
        """Who is active, for the standby's log and readiness."""
        held = self.store.live_lock(WATCH_LEASE)
        if held is None:
            return "standby: no active watcher right now (taking over)"
        return f"standby: {held.holder} is the active watcher"

    def fence(self, before: str) -> None:
        """Raise LeaseLost unless this process still holds the lease. Asks the store at most every third of the
        TTL: between those, the heartbeat (which renews as often) would have found a take-over."""
        if self.lease is None:
            raise LeaseLost(f"this watcher is not the active one; stopped before {before}")
        if self.lease.lost.is_set() or self.clock() - self._checked >= self.ttl / 3:
            self.lease.check(before)
            self._checked = self.clock()

    def resign(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None


class FencedNotifier:
    """A notifier that speaks only while its watcher holds the lease: two watchers never post the same notice."""

    def __init__(self, inner: Notifier, election: Election) -> None:
        self.inner, self.election = inner, election

    def post(self, notice: NoticeRow) -> str:
        self.election.fence(f"posting notice #{notice.id}")
        return self.inner.post(notice)

    def update(self, notice: NoticeRow) -> None:
        self.election.fence(f"updating notice #{notice.id}")
        self.inner.update(notice)

    def remind(self, notice: NoticeRow) -> None:
        self.election.fence(f"reminding of notice #{notice.id}")
        self.inner.remind(notice)

