"""A drift notice as it is stored, by its columns: the watcher changes one, the store writes it, both through this.

It lives in the domain, not beside the service's other row Protocols (bot/service/rows.py), because the store
reads it too (to write a notice's columns) and the adapters may not import the service."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


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
