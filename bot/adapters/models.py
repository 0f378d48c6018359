"""The store's tables (sqlmodel): tenants, deployments, audit events, locks, drift notices, schema version."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from bot.domain.times import utcnow

SCHEMA_VERSION = 7


class SchemaInfo(SQLModel, table=True):
    __tablename__ = "tagpin_schema"
    id: int = Field(default=1, primary_key=True)
    version: int


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    name: str = Field(primary_key=True, max_length=31)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str


class Deployment(SQLModel, table=True):
    __tablename__ = "deployments"
    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=31)
    actor: str
    command: str                      # deploy | rollback
    outcome: str = "running"          # running | planned | converged | rolled_back | failed | refused
    plan: str = "{}"                  # JSON of the plan
    plan_digest: str = ""
    references: str = "{}"            # JSON {service: pinned reference}
    compose: str = ""
    message: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    seconds: float | None = None


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    command: str
    tenant: str | None = Field(default=None, index=True)
    outcome: str
    detail: str = ""
    deployment_id: int | None = None


class TenantLock(SQLModel, table=True):
    __tablename__ = "tenant_locks"
    tenant: str = Field(primary_key=True, max_length=31)
    holder: str
    deployment_id: int | None = None
    since: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    token: str


class DriftScan(SQLModel, table=True):
    __tablename__ = "drift_scans"
    id: int | None = Field(default=None, primary_key=True)
    finished_at: datetime = Field(default_factory=utcnow, index=True)
    tenants: int = 0
    findings: int = 0
    source: str = "cli"               # cli | watch
