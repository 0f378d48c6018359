"""The audit outbox on a real SQLite file: a row is claimed by one process at a time, so it is posted once."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest

from bot.adapters import outbox as outbox_module
from bot.adapters.outbox import Outbox
from bot.adapters.store import Store


@pytest.fixture
def url(database_url: str) -> str:
    Store(database_url).migrate()
    return database_url


def _claim_all(url: str, ids: list[int], out: multiprocessing.Queue[list[int]]) -> None:
    box = Outbox(Store(url))
    out.put([row_id for row_id in ids if box.claim(row_id)])


def test_a_row_is_claimed_once_until_its_post_fails(url: str) -> None:
    box = Outbox(Store(url))
    row = box.add("CAUDIT", "hello", "{}")
    assert row.id is not None
    assert box.claim(row.id) and not box.claim(row.id)        # a second flush leaves it to the first
    box.failed(row.id, "ratelimited")
    assert box.claim(row.id)                                  # a failed post frees it for the next try
    box.posted(row.id, "1700000000.000100")
    assert not box.claim(row.id)                              # posted is posted
    (again,) = box.thread(row.id)
    assert again.attempts == 2 and again.ts == "1700000000.000100" and again.last_error == ""


def test_a_dead_process_s_claim_expires(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Outbox(Store(url))
    row = box.add("CAUDIT", "hello", "{}")
    assert row.id is not None and box.claim(row.id)
    monkeypatch.setattr(outbox_module, "CLAIM", timedelta(seconds=-1))
    assert box.claim(row.id)                                  # nobody posted it within CLAIM: taken over


def test_four_processes_claiming_the_same_rows_never_share_one(url: str) -> None:
    box = Outbox(Store(url))
    ids = [r.id for r in (box.add("CAUDIT", f"m{i}", "{}") for i in range(60)) if r.id is not None]
    spawn = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[int]] = spawn.Queue()
    procs = [spawn.Process(target=_claim_all, args=(url, ids, out)) for _ in range(4)]
    for p in procs:
        p.start()
    claimed = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    every = [row_id for got in claimed for row_id in got]
    assert sorted(every) == ids                               # each row claimed by exactly one process
