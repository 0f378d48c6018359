"""Pending confirmations: bound to one plan digest and one requester, used once, expiring."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.errors import Refused, UsageError

TTL = 600.0


@dataclass(frozen=True)
class Pending:
    id: str
    requester: str                       # Slack user id: only they may confirm
    actor: str                           # "U123 (@alice)" for the audit trail
    tenant: str
    digest: str                          # the plan shown; a different plan at confirm time is refused
    channel: str
    overrides: dict[str, str] = field(default_factory=dict)
    allow_downgrade: bool = False
    expires_at: float = 0.0
    thread_id: int | None = None         # the audit thread the confirmation continues
    progress_ts: str | None = None       # the progress message the confirmed deploy keeps updating


class Confirmations:
    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def add(self, *, requester: str, actor: str, tenant: str, digest: str, channel: str,
            overrides: dict[str, str], allow_downgrade: bool, thread_id: int | None = None,
            progress_ts: str | None = None) -> Pending:
        pending = Pending(secrets.token_urlsafe(12), requester, actor, tenant, digest, channel, dict(overrides),
                          allow_downgrade, self.clock() + self.ttl, thread_id, progress_ts)
        with self._lock:
            self._sweep()
            self._pending[pending.id] = pending
        return pending

    def take(self, confirm_id: str, user: str) -> Pending:
        """The pending deploy, removed so a second click cannot run it again; the wrong user leaves it in place."""
        with self._lock:
            self._sweep()
            pending = self._pending.get(confirm_id)
            if pending is None:
                raise UsageError("this confirmation has expired or was already used; run the command again "
                                 "for a fresh plan")
            if pending.requester != user:
                raise Refused(f"only <@{pending.requester}>, who asked for this deploy, can confirm or cancel it")
            del self._pending[confirm_id]
            return pending

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[key]
