"""Where pending confirmations live: the store, so any bot process (or the same one, restarted) can take them."""

from __future__ import annotations

from bot.adapters.confirmations import ConfirmationTable
from bot.service.context import Context


def confirmation_store(ctx: Context) -> ConfirmationTable:
    return ConfirmationTable(ctx.store)
