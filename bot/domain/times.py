"""Time as tagpin stores it: UTC, to the second (what a database column and a Slack message both show)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
