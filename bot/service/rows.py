"""The store's rows as the service reads them: Protocols of their columns, so the service needs no sqlmodel.

A sqlmodel table class (bot/adapters/models.py …) matches its Protocol structurally; mypy checks that it does
where bot/__main__.py wires the store in."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TenantRow(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def created_by(self) -> str: ...


class DeploymentRow(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def tenant(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def plan(self) -> str: ...
    @property
    def plan_digest(self) -> str: ...
    @property
    def references(self) -> str: ...
    @property
    def compose(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def seconds(self) -> float | None: ...


class AuditRow(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def deployment_id(self) -> int | None: ...


class LockRow(Protocol):
    @property
    def holder(self) -> str: ...
    @property
    def deployment_id(self) -> int | None: ...
    @property
    def expires_at(self) -> datetime: ...


class ScanRow(Protocol):
    @property
    def finished_at(self) -> datetime: ...
    @property
    def tenants(self) -> int: ...
    @property
    def findings(self) -> int: ...
    @property
    def source(self) -> str: ...


class OutboxRow(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def channel(self) -> str: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def text(self) -> str: ...
    @property
    def metadata_json(self) -> str: ...
    @property
    def ts(self) -> str | None: ...


class NoticeRow(Protocol):
    """A drift notice: the watcher changes it, then saves it (the store first, then Slack)."""

    id: int | None
    tenant: str
    service: str
    kind: str
    running: str | None
    target: str | None
    detail: str
    status: str
    channel: str
    ts: str | None
    stale: bool
    first_seen: datetime
    last_seen: datetime
    last_said: datetime
    reminders: int
    snoozed_until: datetime | None
    snoozed_by: str | None
    resolved_at: datetime | None
    resolved_by: int | None
