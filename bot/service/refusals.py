"""A front end's permission check, with its refusal recorded by the service: the database first, then Slack."""

from __future__ import annotations

from collections.abc import Callable

from bot.errors import Refused
from bot.service.context import Context
from bot.service.trail import Thread, Trail

Check = Callable[[], None]                      # a front end's permission check: raises Refused


def authorize(ctx: Context, actor: str, command: str, tenant: str, check: Check, *, thread: Thread | None = None,
              said: str = "", trail: Trail | None = None) -> None:
    """Return when `check` admits the caller; else record the refusal (an audit row and a reply in the command's
    audit thread, a new thread when it has none) and raise it."""
    try:
        check()
    except Refused as exc:
        ctx.store.audit(actor, command, tenant, "refused", {"error": str(exc), "kind": "Refused"})
        trail = trail or Trail(ctx)
        trail.step(thread or trail.open(actor, command, tenant, said or f"`{command} {tenant}` by {actor}"),
                   "refused", f"refused: {exc}")
        raise
