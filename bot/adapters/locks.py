"""Per-tenant deploy leases as rows: renewed while their holder works, fenced before writes, named in refusals."""

from __future__ import annotations

import logging
import secrets
import threading
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.adapters.models import TenantLock
from bot.domain.times import utcnow
from bot.errors import LeaseLost, LockHeld, StoreError

log = logging.getLogger("tagpin.lease")


def _now() -> datetime:
    # Lease times keep their microseconds: a TTL of seconds must not expire early by rounding to whole ones.
    return datetime.now(UTC)


def _stamp(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "an unknown time"


def held_message(tenant: str, held: TenantLock) -> str:
    """Who holds the tenant and doing what: a lease with no deployment yet is only planning."""
    if held.deployment_id is None:
        return (f"{tenant} is being planned by {held.holder} since {_stamp(held.since)} (a risky plan then waits "
                f"for their confirmation); try again in a moment")
    return (f"{tenant} is being deployed by {held.holder} since {_stamp(held.since)} "
            f"(deployment #{held.deployment_id}); try again when it finishes")


class Lease:
    """A held tenant lease. A heartbeat renews it every ttl/3 while the holder works, so a slow step cannot let
    it expire; `check()` fences a write: once another process took the lease over, it raises LeaseLost."""

    def __init__(self, locks: Locks, tenant: str, holder: str, token: str, ttl: float) -> None:
        self.locks, self.tenant, self.holder, self.token, self.ttl = locks, tenant, holder, token, ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"tagpin-lease-{tenant}", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.locks.renew(self.tenant, self.token, self.ttl):
                    self.lost.set()
                    return
            except StoreError as exc:       # the database is away: try again; expiry decides, not one blip
                log.warning("lease of %s not renewed: %s", self.tenant, exc)

    def attach(self, deployment_id: int) -> None:
        self.locks.attach_lock(self.tenant, self.token, deployment_id)

    def check(self, before: str) -> None:
        """Raise LeaseLost unless this process still holds the tenant (call right before each write)."""
        if self.lost.is_set() or not self.locks.holds(self.tenant, self.token):
            self.lost.set()
            raise LeaseLost(f"{self.tenant}: this deploy's lease expired and was taken over by another deploy; "
                            f"stopped before {before}")

    def release(self) -> None:
        self._stop.set()
        self._beat.join(timeout=5)
        try:
            self.locks.release(self.tenant, self.token)
        except StoreError as exc:           # the database is away: the lease expires by itself, unrenewed
            log.warning("lease of %s not released (it expires within %.0f s): %s", self.tenant, self.ttl, exc)


class Locks:
    """Mixed into Store: the lock methods need only its short sessions."""

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def lease(self, tenant: str, holder: str, ttl: float) -> Lease:
        """Take the tenant's lease, renewed in the background until released."""
        return Lease(self, tenant, holder, self.acquire(tenant, holder, ttl), ttl)

    def acquire(self, tenant: str, holder: str, ttl: float, deployment_id: int | None = None) -> str:
        """Take the tenant's lock or raise LockHeld naming its holder; an expired lock is taken over (what its
        deployment did is reconciled from Swarm by the service, which can see what runs)."""
        token = secrets.token_hex(8)
        for _ in range(2):
            now = _now()
            try:
                with self.session() as s:
                    s.add(TenantLock(tenant=tenant, holder=holder, deployment_id=deployment_id, since=utcnow(),
                                     expires_at=now + timedelta(seconds=ttl), token=token))
                    s.commit()
                return token
            except StoreError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
            with self.session() as s:
                held = s.get(TenantLock, tenant)
                if held is None:
                    continue
                if held.expires_at.replace(tzinfo=now.tzinfo) > now:
                    raise LockHeld(held_message(tenant, held))
                log.warning("taking over %s's expired lease of %s (expired %s)", held.holder, tenant,
                            _stamp(held.expires_at))
                s.execute(delete(TenantLock).where(col(TenantLock.tenant) == tenant,
                                                   col(TenantLock.token) == held.token))
                s.commit()
        raise LockHeld(f"{tenant} is being deployed by another process; try again")

    def renew(self, tenant: str, token: str, ttl: float) -> bool:
        """Push the expiry out; False when the lease is no longer this token's (taken over)."""
        with self.session() as s:
            result = s.execute(update(TenantLock).where(col(TenantLock.tenant) == tenant,
                                                        col(TenantLock.token) == token)
                               .values(expires_at=_now() + timedelta(seconds=ttl)))
            s.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def holds(self, tenant: str, token: str) -> bool:
        with self.session() as s:
            held = s.get(TenantLock, tenant)
            return held is not None and held.token == token and held.expires_at.replace(tzinfo=UTC) > _now()

    def live_lock(self, tenant: str) -> TenantLock | None:
        """The tenant's unexpired lock, if any (a deploy is working on it now)."""
        with self.session() as s:
            held = s.get(TenantLock, tenant)
            if held is None or held.expires_at.replace(tzinfo=UTC) <= _now():
                return None
            return held

    def attach_lock(self, tenant: str, token: str, deployment_id: int) -> None:
        with self.session() as s:
            held = s.get(TenantLock, tenant)
            if held is not None and held.token == token:
                held.deployment_id = deployment_id
                s.add(held)
                s.commit()

    def release(self, tenant: str, token: str) -> None:
        with self.session() as s:
            s.execute(delete(TenantLock).where(col(TenantLock.tenant) == tenant, col(TenantLock.token) == token))
            s.commit()
