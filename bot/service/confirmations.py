"""What the bot keeps in the store so any bot process (or the same one, restarted) sees it: pending confirmations,
Slack requests already acted on."""

from __future__ import annotations

from bot.adapters.confirmations import ConfirmationTable
from bot.adapters.seen import SeenRequests
from bot.service.context import Context


def confirmation_store(ctx: Context) -> ConfirmationTable:
    return ConfirmationTable(ctx.store)


def seen_requests(ctx: Context) -> SeenRequests:
    """Slack requests already acted on, in the store: de-duplication that holds across bot processes."""
    return SeenRequests(ctx.store)
