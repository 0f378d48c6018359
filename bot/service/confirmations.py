"""Slack requests already acted on, kept in the store so any bot process (or the same one, restarted) sees them."""

from __future__ import annotations

from bot.service.context import Context
from bot.service.ports import Seen


def seen_requests(ctx: Context) -> Seen:
    """Slack requests already acted on, in the store: de-duplication that holds across bot processes."""
    return ctx.tables.seen
