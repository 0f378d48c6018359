"""A new tenant whose first deploy failed is taken back: its stack removed, not onboarded, and said so."""

from __future__ import annotations

import logging

from bot.errors import TagpinError
from bot.service.context import Context

log = logging.getLogger("tagpin.deploy")


def undo_onboarding(ctx: Context, tenant: str, actor: str, deployment_id: int) -> str:
    """Remove what the failed first deploy created (a crash-looping service must not stay behind) and leave the
    tenant not onboarded, so the next deploy is a new tenant again and asks for confirmation. Returns the words."""
    try:
        ctx.swarm.remove_stack(tenant)
    except TagpinError as exc:
        log.warning("could not remove the failed first deploy of %s: %s", tenant, exc)
        words = (f"the first deploy of {tenant} failed and its stack could NOT be removed ({exc}); remove it with "
                 f"`docker stack rm {tenant}`; {tenant} stays onboarded until then")
        ctx.store.audit(actor, "offboard", tenant, "failed", {"error": str(exc)}, deployment_id=deployment_id)
        return words
    ctx.store.remove_tenant(tenant)
    words = f"first deploy failed: removed the stack it created; {tenant} is not onboarded"
    ctx.store.audit(actor, "offboard", tenant, "removed", {"message": words}, deployment_id=deployment_id)
    return words
