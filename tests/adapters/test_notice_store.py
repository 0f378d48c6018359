"""The drift notices' store on real SQLite and PostgreSQL: a scan's decisions in one transaction, never a click's
snooze overwritten, a post's ts recorded at once and a batch's edits together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.adapters.notices import NoticeStore
from bot.adapters.store import Store
from bot.domain.times import utcnow
from bot.errors import StoreError


@pytest.fixture
def notices(database_url: str) -> NoticeStore:
    store = Store(database_url)
    store.migrate()
    return NoticeStore(store)


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement and COMMIT the engine sends while inside (BEGIN is implicit on both drivers)."""
    seen: list[str] = []

    def sent(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql.split()[0].upper())

    def committed(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(store.engine, "before_cursor_execute", sent)
    event.listen(store.engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", sent)
        event.remove(store.engine, "commit", committed)


def test_a_scan_of_fifty_notices_is_written_in_one_transaction_of_two_statements(notices: NoticeStore) -> None:
    now = utcnow()
    old = [notices.new("t", f"s{i}", "behind", "C1", now) for i in range(25)]
    notices.save(old)
    assert all(n.id is not None for n in old)
    for n in old:
        n.detail, n.reminders = "edited", 1
    new = [notices.new("u", f"s{i}", "behind", "C1", now) for i in range(25)]
    with statements(notices.store) as sent:
        notices.save(old + new)
    # (a pool ping may come first on PostgreSQL; it is not a write)
    assert [s for s in sent if s != "SELECT"] == ["INSERT", "UPDATE", "COMMIT"], sent
    assert all(n.id is not None for n in new) and len({n.id for n in old + new}) == 50
    stored = {n.id: n for n in notices.open()}
    assert len(stored) == 50
    assert all(stored[n.id].detail == "edited" and stored[n.id].reminders == 1 for n in old)
    assert [stored[n.id].service for n in new] == [f"s{i}" for i in range(25)]       # ids in the rows' order


def test_saving_the_watcher_s_decision_keeps_a_snooze_clicked_meanwhile_and_the_ts(notices: NoticeStore) -> None:
    row = notices.new("t", "web", "behind", "C1", utcnow())
    notices.save([row])
    assert row.id is not None
    with notices.telling() as told:
        told.posted(row.id, "111.222")
    notices.snooze(row.id, 24, "U-bob")            # a click in Slack, between the scan's read and its write
    row.detail, row.ts = "edited", None           # the scan's copy knows neither
    notices.save([row])
    stored = notices.get(row.id)
    assert stored is not None and stored.detail == "edited"
    assert stored.ts == "111.222" and stored.snoozed_by == "U-bob"
    assert stored.snoozed_until is not None and stored.snoozed_until > utcnow() + timedelta(hours=23)


def test_each_post_is_recorded_at_once_and_the_batch_s_edits_in_one_update_on_one_connection(
        notices: NoticeStore) -> None:
    rows = [notices.new("t", f"s{i}", "behind", "C1", utcnow()) for i in range(6)]
    for n in rows:
        n.stale = True
    notices.save(rows)
    ids = [n.id for n in rows if n.id is not None]
    checkouts: list[object] = []
    event.listen(notices.store.engine, "checkout", lambda *a: checkouts.append(a))
    with statements(notices.store) as sent, notices.telling() as told:
        for i, notice_id in enumerate(ids[:3]):
            told.posted(notice_id, f"{i}.0")
            assert [s for s in sent if s == "UPDATE"] == ["UPDATE"] * (i + 1)      # on the database before the next
        for notice_id in ids[3:]:
            told.edited(notice_id)
        assert sent.count("UPDATE") == 3                                          # edits wait for the batch's end
    assert [s for s in sent if s not in ("SELECT", "PRAGMA", "SET", "RESET")] == ["UPDATE"] * 4, sent  # autocommit
    assert len(checkouts) == 1
    with notices.store.engine.connect() as conn:          # the pooled connection is given back as durable as it was
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2          # FULL
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
    assert {n.service: (n.ts, n.stale) for n in notices.open()} == {
        "s0": ("0.0", False), "s1": ("1.0", False), "s2": ("2.0", False),
        "s3": (None, False), "s4": (None, False), "s5": (None, False)}


def test_a_failed_record_is_a_store_error_for_that_notice_and_the_next_is_still_recorded(
        notices: NoticeStore) -> None:
    a, b = notices.new("t", "a", "behind", "C1", utcnow()), notices.new("t", "b", "behind", "C1", utcnow())
    notices.save([a, b])
    assert a.id is not None and b.id is not None
    with notices.telling() as told:
        with pytest.raises(StoreError, match="database error on"):
            told.posted(a.id, object())  # type: ignore[arg-type]  # no driver can bind it: the write fails
        told.posted(b.id, "2.0")
    assert {n.service: n.ts for n in notices.open()}["b"] == "2.0"
