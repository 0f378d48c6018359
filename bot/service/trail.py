"""The audit trail in Slack: every message is stored in the outbox first, then posted; failed posts are retried."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from bot.service.context import Context
from bot.service.ports import PostFailed
from bot.service.rows import OutboxRow

log = logging.getLogger("tagpin.trail")
EVENT_TYPE = "tagpin_audit"


@dataclass
class Thread:
    parent_id: int
    broken: bool = False               # a post failed during this command: store the rest, post on flush


# One process-wide lock: two threads flushing at once must never post one row twice.
_posting = threading.Lock()


class Trail:
    """The audit thread of every command, posted through the context's poster (none: stored, posted later).

    A process that owns the outbox (the bot) first posts what earlier commands could not; any other process (a
    CLI deploy) posts only its own thread, so two processes never race to post one row."""

    def __init__(self, ctx: Context) -> None:
        self.channel = ctx.settings.audit_channel
        self.poster = ctx.poster
        self.owns_outbox = ctx.owns_outbox
        self.outbox = ctx.tables.outbox if self.channel else None

    def open(self, actor: str, command: str, tenant: str | None, text: str) -> Thread | None:
        """The parent message of one command's thread: stored, then posted."""
        if self.outbox is None or self.channel is None:
            return None
        if self.owns_outbox:
            self.flush()            # posts the Web API missed earlier go out before this command's
        payload = {"actor": actor, "command": command, "tenant": tenant or "", "step": "started"}
        row = self.outbox.add(self.channel, text, _metadata(payload))
        assert row.id is not None
        thread = Thread(row.id)
        self._deliver(thread)
        return thread

    def step(self, thread: Thread | None, step: str, text: str, **payload: Any) -> None:
        """One reply in the command's thread: stored, then posted unless this command already saw a failure."""
        if thread is None or self.outbox is None or self.channel is None:
            return
        parent = self.outbox.get(thread.parent_id)
        base = json.loads(parent.metadata_json)["event_payload"] if parent else {}
        data = {**base, **{k: v for k, v in payload.items() if v is not None}, "step": step}
        self.outbox.add(self.channel, text, _metadata(data), parent_id=thread.parent_id)
        if not thread.broken:
            self._deliver(thread)

    def flush(self) -> int:
        """Post every pending row (parents before replies); stop at the first failure. Returns how many posted."""
        if self.outbox is None or self.channel is None:
            return 0
        posted = 0
        with _posting:
            # Only this trail's channel: a local shell sharing the database must not post the bot's rows.
            for row in self.outbox.pending(self.channel):
                outcome = self._post(row)
                if outcome is None:
                    break
                posted += outcome
        return posted

    def _deliver(self, thread: Thread) -> None:
        assert self.outbox is not None
        with _posting:
            for row in self.outbox.thread(thread.parent_id):
                if row.ts is None and self._post(row) is None:
                    thread.broken = True
                    return

    def _post(self, row: OutboxRow) -> int | None:
        """1 when posted, 0 when it must wait for its parent or is another process's, None when the post failed."""
        assert self.outbox is not None and row.id is not None
        if self.poster is None:
            return None
        thread_ts = None
        if row.parent_id is not None:
            parent = self.outbox.get(row.parent_id)
            if parent is None or parent.ts is None:
                return 0
            thread_ts = parent.ts
        if not self.outbox.claim(row.id):
            return 0                # another process is posting it, or just did
        try:
            ts = self.poster.post(row.channel, row.text, thread_ts, json.loads(row.metadata_json))
        except PostFailed as exc:
            log.warning("audit post #%s kept for retry: %s", row.id, exc)
            self.outbox.failed(row.id, str(exc))
            return None
        self.outbox.posted(row.id, ts)
        return 1


def _metadata(payload: dict[str, Any]) -> str:
    return json.dumps({"event_type": EVENT_TYPE, "event_payload": payload}, sort_keys=True)
