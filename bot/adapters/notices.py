"""Drift notices in the store: the watcher's memory, so a restart neither re-posts nor forgets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel, col, select

from bot.adapters.models import Deployment
from bot.adapters.store import Store
from bot.domain.clients import ClientSeen
from bot.domain.times import utcnow
from bot.errors import StoreError


class DriftNotice(SQLModel, table=True):
    __tablename__ = "drift_notices"
    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True)
    service: str
    kind: str
    running: str | None = None
    target: str | None = None
    detail: str = ""
    status: str = Field(default="open", index=True)     # open | resolved
    channel: str = ""
    ts: str | None = None                                # Slack's id of the notice message, once posted
    stale: bool = False                                  # Slack still shows an older version of it
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    last_said: datetime = Field(default_factory=utcnow)
    reminders: int = 0
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: int | None = None                       # the deployment that fixed it, when one did


class NoticeStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def new(self, tenant: str, service: str, kind: str, channel: str, first_seen: datetime) -> DriftNotice:
        """A notice not yet saved: the watcher fills in what it found, then saves it before telling anyone."""
        return DriftNotice(tenant=tenant, service=service, kind=kind, channel=channel, first_seen=first_seen)

    def open(self) -> list[DriftNotice]:
        with self.store.session() as s:
            return list(s.exec(select(DriftNotice).where(DriftNotice.status == "open")
                               .order_by(col(DriftNotice.id))))

    def owed(self) -> list[DriftNotice]:
        """Resolved notices whose "resolved" edit Slack has not accepted yet."""
        with self.store.session() as s:
            return list(s.exec(select(DriftNotice).where(DriftNotice.status == "resolved",
                                                         col(DriftNotice.stale).is_(True),
                                                         col(DriftNotice.ts).is_not(None))))

    def get(self, notice_id: int) -> DriftNotice | None:
        with self.store.session() as s:
            return s.get(DriftNotice, notice_id)

    def save(self, notice: Any) -> DriftNotice:
        """Save a notice this store made (new/open/get); typed Any so the service can hold it by its port."""
        if not isinstance(notice, DriftNotice):
            raise TypeError(f"not a drift notice row: {type(notice).__name__}")
        with self.store.session() as s:
            merged = s.merge(notice)
            s.commit()
            s.refresh(merged)
            return merged

    def snooze(self, notice_id: int, hours: float, by: str) -> DriftNotice | None:
        with self.store.session() as s:
            notice = s.get(DriftNotice, notice_id)
            if notice is None:
                return None
            notice.snoozed_until = utcnow() + timedelta(hours=hours)
            notice.snoozed_by = by
            s.add(notice)
            s.commit()
            return notice

    def client_versions(self, tenant: str, app: str, since: datetime) -> list[ClientSeen]:
        return client_versions(self.store, tenant, app, since)

    def fixing_deployment(self, tenant: str, since: datetime) -> Deployment | None:
        """The latest converged deployment of the tenant since the drift was first seen."""
        with self.store.session() as s:
            query = (select(Deployment).where(Deployment.tenant == tenant, Deployment.outcome == "converged",
                                              col(Deployment.started_at) >= since - timedelta(seconds=1))
                     .order_by(col(Deployment.id).desc()).limit(1))
            return s.exec(query).first()


def client_versions(store: Store, tenant: str, app: str, since: datetime) -> list[ClientSeen]:
    """Aggregate the recovery service's beacons (table client_beacons, written by another process) per version."""
    query = text(
        "SELECT app_version, SUM(CASE WHEN event = 'load' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN event = 'submit_failed' THEN 1 ELSE 0 END), MAX(received_at) "
        "FROM client_beacons WHERE tenant = :tenant AND app = :app AND received_at >= :since "
        "GROUP BY app_version")
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(query, {"tenant": tenant, "app": app, "since": since.replace(tzinfo=None)}).all()
    except SQLAlchemyError as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return []          # the recovery service has not recorded a beacon yet
        raise StoreError(f"cannot read client beacons from {store.safe_url}: {str(exc).splitlines()[0]}") from exc
    out = []
    for version, loads, failed, last in rows:
        seen = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
        out.append(ClientSeen(app, str(version), int(loads or 0), int(failed or 0), seen))
    return out
