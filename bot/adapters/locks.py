"""Per-tenant deploy locks as rows: two processes exclude each other, and a refusal names the holder."""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.adapters.models import AuditEvent, Deployment, TenantLock, utcnow
from bot.errors import LockHeld, StoreError


def _stamp(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "an unknown time"


class Locks:
    """Mixed into Store: the lock methods need only its short sessions."""

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def acquire(self, tenant: str, holder: str, ttl: float, deployment_id: int | None = None) -> str:
        """Take the tenant's lock or raise LockHeld naming its holder; an expired lock is taken over."""
        token = secrets.token_hex(8)
        for _ in range(2):
            now = utcnow()
            try:
                with self.session() as s:
                    s.add(TenantLock(tenant=tenant, holder=holder, deployment_id=deployment_id, since=now,
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
                    where = f" (deployment #{held.deployment_id})" if held.deployment_id else ""
                    raise LockHeld(f"{tenant} is being deployed by {held.holder} since "
                                   f"{_stamp(held.since)}{where}; try again when it finishes")
                s.execute(delete(TenantLock).where(col(TenantLock.tenant) == tenant,
                                                   col(TenantLock.token) == held.token))
                abandoned = s.get(Deployment, held.deployment_id) if held.deployment_id else None
                if abandoned is not None and abandoned.outcome == "running":
                    # Its process died mid-deploy: say so instead of leaving it "running" forever.
                    abandoned.outcome, abandoned.finished_at = "failed", now
                    abandoned.message = (f"abandoned: {held.holder}'s deploy stopped before finishing "
                                         f"(lock expired at {_stamp(held.expires_at)})")
                    s.add(abandoned)
                    s.add(AuditEvent(actor=holder, command="deploy", tenant=tenant, outcome="abandoned",
                                     detail=abandoned.message, deployment_id=abandoned.id))
                s.commit()
        raise LockHeld(f"{tenant} is being deployed by another process; try again")

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
