"""Drift notices in the store: the watcher's memory, so a restart neither re-posts nor forgets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Table, bindparam, insert, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel, col, select

from bot.adapters.models import Deployment
from bot.adapters.store import Store
from bot.domain.clients import ClientSeen
from bot.domain.notice_row import NoticeRow
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


TABLE: Table = DriftNotice.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation


def _decided(n: NoticeRow) -> dict[str, object]:
    """The columns the watcher decides each scan; the rest are set once (new) or by someone else (snooze, ts)."""
    return {"status": n.status, "running": n.running, "target": n.target, "detail": n.detail, "stale": n.stale,
            "last_seen": n.last_seen, "last_said": n.last_said, "reminders": n.reminders,
            "resolved_at": n.resolved_at, "resolved_by": n.resolved_by}


class Told:
    """What the watcher told Slack, as it goes: `posted(id, ts)` and `edited(id)` (nothing owed any more).

    One connection in autocommit (each write one statement, one round trip), committing without waiting for the
    disk (SQLite: synchronous=NORMAL, safe in WAL mode; PostgreSQL: synchronous_commit off, still atomic): a crash
    of tagpin loses nothing written; a crash of the machine or the database server could lose the last few ts's,
    and those notices would be posted again. The notices themselves were saved durably first (`save`). A failed
    write is a StoreError for that notice; the next ones are still recorded."""

    def __init__(self, store: Store) -> None:
        self.store, self.edits = store, set[int]()
        self._conn: Connection | None = None
        self._restore = ""

    def _connection(self) -> Connection:
        if self._conn is None:
            try:
                conn = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                if conn.dialect.name == "sqlite":
                    self._restore = f"PRAGMA synchronous={int(conn.exec_driver_sql('PRAGMA synchronous').scalar_one())}"
                    conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                elif conn.dialect.name == "postgresql":
                    self._restore = "RESET synchronous_commit"
                    conn.exec_driver_sql("SET synchronous_commit = off")
            except SQLAlchemyError as exc:
                raise self.store.error(exc) from exc
            self._conn = conn
        return self._conn

    def _write(self, where: ColumnElement[bool], **values: object) -> None:
        conn = self._connection()
        try:
            conn.execute(update(TABLE).where(where).values(**values))
        except SQLAlchemyError as exc:
            raise self.store.error(exc) from exc

    def posted(self, notice_id: int, ts: str) -> None:
        self._write(TABLE.c.id == notice_id, ts=ts, stale=False)

    def edited(self, notice_id: int) -> None:
        self.edits.add(notice_id)

    def close(self) -> None:
        """Record the edits (one UPDATE), give the connection back as durable as it was."""
        try:
            if self.edits:
                self._write(TABLE.c.id.in_(sorted(self.edits)), stale=False)
        finally:
            if self._conn is not None:
                try:
                    if self._restore:
                        self._conn.exec_driver_sql(self._restore)
                finally:
                    self._conn.close()


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

    def save(self, notices: Sequence[NoticeRow]) -> None:
        """Write the watcher's decisions in one transaction (two statements, however many notices), before Slack
        hears of any: a new notice is inserted and given its id; the others' lifecycle columns are updated by id --
        never the snooze (a click in Slack may have set it meanwhile) nor the ts (`said` writes it)."""
        new = [n for n in notices if n.id is None]
        old = [{"notice_id": n.id, **_decided(n)} for n in notices if n.id is not None]
        if not notices:
            return
        keys = [(n.tenant, n.service, n.kind) for n in new]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two new notices for one (tenant, service, kind): {sorted(keys)}")
        ids: dict[tuple[str, str, str], int] = {}
        with self.store.session() as s:
            if new:  # one multi-row INSERT … RETURNING; a scan makes at most one notice per (tenant, service, kind)
                made = s.execute(insert(TABLE).returning(TABLE.c.id, TABLE.c.tenant, TABLE.c.service, TABLE.c.kind),
                                 [{**_decided(n), "tenant": n.tenant, "service": n.service, "kind": n.kind,
                                   "channel": n.channel, "first_seen": n.first_seen} for n in new])
                ids = {(tenant, service, kind): notice_id for notice_id, tenant, service, kind in made}
            if old:
                s.execute(update(TABLE).where(TABLE.c.id == bindparam("notice_id"))
                          .values({c: bindparam(c) for c in old[0] if c != "notice_id"}), old)
            s.commit()
        for notice, key in zip(new, keys, strict=True):
            notice.id = ids[key]

    @contextmanager
    def telling(self) -> Iterator[Told]:
        """While the watcher talks to Slack, what Slack now has: a new message's ts is recorded right after its
        post (a crash loses at most that one, then posted again); edits are recorded together when the batch
        ends (a crash only means they are sent again, and an edit is idempotent). One connection for the batch."""
        told = Told(self.store)
        try:
            yield told
        finally:
            told.close()

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
