"""Slack requests already acted on, kept in the store so any bot process (or the same one, restarted) sees them."""

from __future__ import annotations

from bot.adapters.seen import SeenRequests
from bot.service.context import Context


def seen_requests(ctx: Context) -> SeenRequests:
    """Slack requests already acted on, in the store: de-duplication that holds across bot processes."""
    return SeenRequests(ctx.store)
