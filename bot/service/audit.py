"""The database audit trail and the onboarded tenants, in the CLI's JSON shapes (what `tagpin audit`, `tagpin
tenants` and /audit show)."""

from __future__ import annotations

from bot.service.context import Context
from bot.service.fleet import freeze_json, hold_json
from bot.service.views import AuditEventJSON, TenantJSON


def recent_events(ctx: Context, tenant: str | None, limit: int) -> list[AuditEventJSON]:
    """The database audit trail, newest first, in the CLI's JSON shape."""
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "command": e.command, "tenant": e.tenant,
             "outcome": e.outcome, "detail": e.detail, "deployment_id": e.deployment_id}
            for e in ctx.store.events(tenant, limit=limit)]


def onboarded(ctx: Context) -> list[TenantJSON]:
    """Every onboarded tenant, by name, with its labels and holds."""
    labels, holds, freezes = ctx.tables.fleet.labels(), ctx.tables.fleet.holds(), ctx.tables.fleet.freezes()
    return [{"name": t.name, "created_at": t.created_at.isoformat(), "created_by": t.created_by,
             "labels": labels.get(t.name, {}),
             "holds": [hold_json(h) for _, h in sorted(holds.get(t.name, {}).items())],
             "freezes": [freeze_json(f) for _, f in sorted(freezes.get(t.name, {}).items())]}
            for t in ctx.store.tenants()]
