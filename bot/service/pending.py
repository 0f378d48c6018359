"""Plans parked for a human: bound to one plan digest and one requester, used once, expiring.

A parked plan keeps what it was made of (the pins, the template's fingerprint, whether the tenant was new), so a
confirmation applies exactly the plan that was shown without asking the registry again; only when those inputs
changed is the plan made again (and shown again)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from bot.domain.stacks import Pin
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
    command: str = "deploy"              # deploy | rollback: what the button goes on with
    pins: dict[str, list[str]] = field(default_factory=dict)      # service → [tag, digest] of the shown plan
    new_tenant: bool = False
    template: str = ""                   # the stack template's fingerprint when the plan was made
    notes: list[str] = field(default_factory=list)
    fleet: dict[str, Any] = field(default_factory=dict)    # a rollout's: the tenants, label, waves, parallel asked for

    def shown_pins(self) -> dict[str, Pin]:
        return {name: Pin(tag, digest) for name, (tag, digest) in self.pins.items()}


class Backend(Protocol):
    """Where pending confirmations are kept: memory (one process) or the store (ConfirmationTable)."""

    def put(self, record: dict[str, Any]) -> None: ...

    def get(self, confirm_id: str) -> dict[str, Any] | None: ...

    def delete(self, confirm_id: str) -> bool: ...

    def sweep(self, now: float) -> None: ...


class Memory:
    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    def put(self, record: dict[str, Any]) -> None:
        self._rows[record["id"]] = record

    def get(self, confirm_id: str) -> dict[str, Any] | None:
        return self._rows.get(confirm_id)

    def delete(self, confirm_id: str) -> bool:
        return self._rows.pop(confirm_id, None) is not None

    def sweep(self, now: float) -> None:
        for key in [k for k, r in self._rows.items() if r["expires_at"] <= now]:
            del self._rows[key]


class Confirmations:
    """Wall-clock expiry (time.time), so a confirmation kept in the store means the same after a restart."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.time,
                 backend: Backend | None = None) -> None:
        self.ttl = ttl
        self.clock = clock
        self.backend: Backend = backend or Memory()
        self._lock = threading.Lock()

    def add(self, *, requester: str, actor: str, tenant: str, digest: str, channel: str,
            overrides: Mapping[str, str], allow_downgrade: bool, thread_id: int | None = None,
            progress_ts: str | None = None, command: str = "deploy", pins: Mapping[str, Pin] | None = None,
            new_tenant: bool = False, template: str = "", notes: Sequence[str] = (),
            fleet: Mapping[str, Any] | None = None) -> Pending:
        kept = {name: [pin.tag, pin.digest] for name, pin in (pins or {}).items()}
        pending = Pending(secrets.token_urlsafe(12), requester, actor, tenant, digest, channel, dict(overrides),
                          allow_downgrade, self.clock() + self.ttl, thread_id, progress_ts, command, kept,
                          new_tenant, template, list(notes), dict(fleet or {}))
        with self._lock:
            self.backend.sweep(self.clock())
            self.backend.put(asdict(pending))
        return pending

    def take(self, confirm_id: str, user: str) -> Pending:
        """The pending deploy, removed so a second click cannot run it again; the wrong user leaves it in place."""
        with self._lock:
            self.backend.sweep(self.clock())
            record = self.backend.get(confirm_id)
            if record is None:
                raise UsageError("this confirmation has expired or was already used; run the command again "
                                 "for a fresh plan")
            pending = Pending(**record)
            if pending.requester != user:
                raise Refused(f"only <@{pending.requester}>, who asked for this deploy, can confirm or cancel it")
            if not self.backend.delete(confirm_id):
                raise UsageError("this confirmation was already used")    # another process took it first
            return pending
