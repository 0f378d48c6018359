"""Two bot processes flushing one audit outbox: every stored message reaches Slack exactly once, in its thread."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from dataclasses import replace
from multiprocessing.synchronize import Barrier

from bot.__main__ import build_context
from bot.adapters.outbox import Outbox
from bot.adapters.store import Store
from bot.config import Settings
from bot.service.trail import Trail
from bot.slack.app import web_client
from bot.slack.localapi import LocalSlackAPI
from bot.slack.posting import SlackPoster
from tests.support.race import race

AUDIT = "CAUDIT"
THREADS, REPLIES = 250, 3            # 1,000 messages: 250 parents with 3 replies each


def _flush_all(url: str, api: str, go: Barrier, out: multiprocessing.Queue[tuple[int, float]]) -> None:
    """One bot process: post what is pending until nothing is left (the other process posts beside it)."""
    ctx = build_context(Settings.from_env({"TAGPIN_DATABASE_URL": url, "TAGPIN_AUDIT_CHANNEL": AUDIT}))
    trail = Trail(replace(ctx, poster=SlackPoster(web_client(api, "xoxb-local")), owns_outbox=True))
    go.wait(30)
    started, posted = time.monotonic(), 0
    while ctx.tables.outbox.pending(AUDIT, limit=1) and time.monotonic() - started < 120:
        posted += trail.flush()
    out.put((posted, time.monotonic() - started))


def test_two_processes_flushing_1000_pending_posts_send_each_exactly_once(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    box = Outbox(store)
    for t in range(THREADS):
        parent = box.add(AUDIT, f"thread {t}", "{}")
        for r in range(REPLIES):
            box.add(AUDIT, f"thread {t} reply {r}", "{}", parent_id=parent.id)
    with LocalSlackAPI() as api:
        results: list[tuple[int, float]] = race(_flush_all, [(database_url, api.url)] * 2, timeout=180)
        calls = [c for c in api.of("chat.postMessage") if c.params["channel"] == AUDIT]

    total = THREADS * (1 + REPLIES)
    sent = Counter(c.params["text"] for c in calls)
    assert len(calls) == total and set(sent.values()) == {1}, sent.most_common(3)   # each once, none lost
    assert sum(posted for posted, _ in results) == total
    assert all(posted > 0 for posted, _ in results), results          # both processes really posted
    ts = {c.params["text"]: c.reply["ts"] for c in calls}              # type: ignore[index]
    for c in calls:                                                     # every reply in its own parent's thread
        if " reply " in c.params["text"]:
            assert c.params["thread_ts"] == ts[c.params["text"].split(" reply ")[0]]
    assert box.pending(AUDIT) == []
    print(f"\n{total} posts by 2 processes on {database_url.split(':')[0]}: "
          f"{[p for p, _ in results]} each, {max(s for _, s in results):.1f} s")
