"""When tagpin first saw a release, on SQLite and PostgreSQL: recorded once, the first time kept, shared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.__main__ import build_context
from bot.config import Settings

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_the_first_sighting_is_recorded_once_and_kept(database_url: str) -> None:
    seen = build_context(Settings.from_env({"TAGPIN_DATABASE_URL": database_url})).tables.releases
    digest = "sha256:" + "a" * 64
    assert seen.first_seen("reg/acme/frontend", digest, T0) == T0
    assert seen.first_seen("reg/acme/frontend", digest, T0 + timedelta(hours=3)) == T0     # not moved later
    assert seen.first_seen("reg/acme/backend", digest, T0 + timedelta(hours=1)) == T0 + timedelta(hours=1)
    other = build_context(Settings.from_env({"TAGPIN_DATABASE_URL": database_url})).tables.releases
    assert other.first_seen("reg/acme/frontend", digest, T0 + timedelta(days=1)) == T0   # another process agrees
