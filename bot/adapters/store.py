"""The store: tenants, deployments, audit events, per-tenant locks and scans in any SQLAlchemy database."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.sql.base import Executable
from sqlmodel import Session, col, create_engine, select

from bot.adapters.locks import Locks
from bot.adapters.migrations import runner as migrations
from bot.adapters.migrations.runner import Migration
from bot.adapters.models import AuditEvent, Deployment, DriftScan, Tenant
from bot.domain.times import utcnow
from bot.errors import StoreError, StoreUnreachable

# Connections one process keeps to a server database, and how many more it may open under load.
POOL, OVERFLOW = 5, 10


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            # WAL lets readers (status, the watcher) run while a deploy writes. It is a property of the file, so
            # only a file not yet in WAL is switched: the switch fails at once ("database is locked", no busy
            # wait) while another process writes -- a second process starting beside a migration did.
            cur = conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            deadline = time.monotonic() + 30
            while cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                try:
                    cur.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            cur.close()

        return engine
    # A server database: connections are checked before use (a restarted server is not an error), bounded (a
    # process never holds more than POOL + OVERFLOW), and a dead server is a StoreError in seconds, not minutes.
    return create_engine(url, pool_pre_ping=True, pool_size=POOL, max_overflow=OVERFLOW, pool_timeout=10,
                         pool_recycle=1800, connect_args={"connect_timeout": 10} if "psycopg" in url else {})


class Store(Locks):
    """One engine per process; short sessions per call so concurrent processes interleave safely."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = _engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open database {self.safe_url}: {exc}") from exc

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<unparseable database URL>"

    def close(self) -> None:
        self.engine.dispose()

    def write_soon(self, statement: Executable) -> Any:
        """One Core statement in a transaction of its own that commits without waiting for the disk (SQLite:
        synchronous=NORMAL, safe in WAL mode; PostgreSQL: SET LOCAL synchronous_commit off, still atomic), for the
        acknowledgement's path: a crash of tagpin loses nothing, a crash of the machine or the database server
        could lose the last fraction of a second of such writes. Returns the first column of the first row
        (RETURNING), or None."""
        try:
            with self.engine.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                try:
                    if conn.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    result = conn.execute(statement)
                    first = result.scalar() if result.returns_rows else None
                    conn.commit()
                finally:
                    if sqlite:
                        conn.rollback()
                        conn.exec_driver_sql("PRAGMA synchronous=FULL")
                return first
        except SQLAlchemyError as exc:
            raise self.error(exc) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as s:
                yield s
        except SQLAlchemyError as exc:
            raise self.error(exc) from exc

    def error(self, exc: SQLAlchemyError) -> StoreError:
        """A driver's error as tagpin says it: the database (no password), the error's kind and first line."""
        return StoreError(f"database error on {self.safe_url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")

    def migrate(self, apply: bool = True) -> Migration:
        """Bring the schema to this tagpin's head revision (Alembic; a database made before Alembic is adopted
        as it is) and refuse a database written by a newer tagpin. apply=False (TAGPIN_MIGRATE=never) only checks,
        and refuses a database that is behind. Called once, at start-up, before anything reads or writes."""
        try:
            return migrations.migrate(self.engine, self.safe_url, apply)
        except (SQLAlchemyError, CommandError) as exc:
            # A server that refuses the connection is told apart (a service waits for it); SQLite has no server.
            unreachable = isinstance(exc, OperationalError) and not self.safe_url.startswith("sqlite")
            raise (StoreUnreachable if unreachable else StoreError)(
                f"cannot create the schema in {self.safe_url}: {str(exc).splitlines()[0]}") from exc

    # tenants
    def tenants(self) -> list[Tenant]:
        with self.session() as s:
            return list(s.exec(select(Tenant).order_by(col(Tenant.name))))

    def tenant(self, name: str) -> Tenant | None:
        with self.session() as s:
            return s.get(Tenant, name)

    def add_tenant(self, name: str, created_by: str) -> Tenant:
        with self.session() as s:
            found = s.get(Tenant, name)
            if found is not None:
                return found
            tenant = Tenant(name=name, created_by=created_by)
            s.add(tenant)
            s.commit()
            return tenant

    def remove_tenant(self, name: str) -> None:
        """Un-onboard a tenant whose first deploy failed (its history stays in deployments and the audit)."""
        with self.session() as s:
            found = s.get(Tenant, name)
            if found is not None:
                s.delete(found)
                s.commit()

    # audit
    def audit(self, actor: str, command: str, tenant: str | None, outcome: str,
              detail: str | Mapping[str, Any] = "", deployment_id: int | None = None) -> AuditEvent:
        text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
        with self.session() as s:
            row = AuditEvent(actor=actor, command=command, tenant=tenant, outcome=outcome, detail=text,
                             deployment_id=deployment_id)
            s.add(row)
            s.commit()
            return row

    def events(self, tenant: str | None = None, limit: int = 50) -> list[AuditEvent]:
        with self.session() as s:
            query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
            if tenant is not None:
                query = query.where(AuditEvent.tenant == tenant)
            return list(s.exec(query))

    # deployments
    def start_deployment(self, **fields: Any) -> Deployment:
        with self.session() as s:
            row = Deployment(**fields)
            s.add(row)
            s.commit()
            return row

    def update_deployment(self, deployment_id: int, **fields: Any) -> Deployment:
        with self.session() as s:
            row = s.get(Deployment, deployment_id)
            if row is None:
                raise StoreError(f"deployment #{deployment_id} vanished from the database")
            for key, value in fields.items():
                setattr(row, key, value)
            if fields.get("outcome") not in (None, "running"):
                row.finished_at = utcnow()
            s.add(row)
            s.commit()
            return row

    def deployment(self, deployment_id: int) -> Deployment | None:
        with self.session() as s:
            return s.get(Deployment, deployment_id)

    def converged(self, tenant: str, limit: int = 2) -> list[Deployment]:
        """The tenant's latest converged deployments, newest first."""
        with self.session() as s:
            query = (select(Deployment).where(Deployment.tenant == tenant, Deployment.outcome == "converged")
                     .order_by(col(Deployment.id).desc()).limit(limit))
            return list(s.exec(query))

    def history(self, tenant: str, limit: int = 1000) -> list[Deployment]:
        """The tenant's converged deployments (deploys and rollbacks), oldest first: the line of releases."""
        with self.session() as s:
            query = (select(Deployment).where(Deployment.tenant == tenant, Deployment.outcome == "converged")
                     .order_by(col(Deployment.id).desc()).limit(limit))
            return list(reversed(list(s.exec(query))))

    def unsettled(self, tenant: str) -> list[Deployment]:
        """Deployments nobody finished judging: still "running" (their process died) or "interrupted"."""
        with self.session() as s:
            query = (select(Deployment).where(Deployment.tenant == tenant,
                                              col(Deployment.outcome).in_(("running", "interrupted")))
                     .order_by(col(Deployment.id).desc()))
            return list(s.exec(query))

    def latest_deployment(self, tenant: str) -> Deployment | None:
        with self.session() as s:
            query = select(Deployment).where(Deployment.tenant == tenant).order_by(col(Deployment.id).desc())
            return s.exec(query.limit(1)).first()

    # scans
    def record_scan(self, tenants: int, findings: int, source: str) -> DriftScan:
        with self.session() as s:
            row = DriftScan(tenants=tenants, findings=findings, source=source)
            s.add(row)
            s.commit()
            return row

    def last_scan(self, source: str | None = None) -> DriftScan | None:
        """The newest completed scan, or the newest of one source ("watch", "cli", "slack")."""
        with self.session() as s:
            query = select(DriftScan).order_by(col(DriftScan.id).desc()).limit(1)
            if source is not None:
                query = query.where(DriftScan.source == source)
            return s.exec(query).first()
