"""Freeze windows applied: which hold for a tenant now (TAGPIN_FREEZE's and its own), the refusal a deploy or a
rollout meets inside one, and the audited override (--override-freeze --reason). Rollbacks are never refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.domain.freezes import Active, Freeze, active, freeze_reason
from bot.errors import Refused, UsageError
from bot.service.context import Context


def global_active(ctx: Context) -> list[Active]:
    return active(ctx.settings.freezes, ctx.clock())


def tenant_active(ctx: Context, tenant: str, every: Mapping[str, Mapping[str, Freeze]] | None = None) -> list[Active]:
    """The tenant's own freezes that hold now; `every` is all tenants' freezes, read once by a fleet-wide caller."""
    mine = (ctx.tables.fleet.freezes(tenant) if every is None else every).get(tenant, {})
    return active([f for _, f in sorted(mine.items())], ctx.clock())


def active_for(ctx: Context, tenant: str) -> list[Active]:
    """Every freeze that holds for `tenant` now: the global ones first."""
    return [*global_active(ctx), *tenant_active(ctx, tenant)]


def says(frozen: Sequence[Active]) -> str:
    return "; ".join(a.says() for a in frozen)


def refusal(what: str, frozen: Sequence[Active], hint: str) -> Refused:
    """The one line a deploy or rollout inside a window is refused with: the windows, when they end, the way out."""
    return Refused(f"{what} is frozen: {says(frozen)} -- nothing was deployed; to go ahead anyway: {hint} "
                   "--override-freeze --reason TEXT (audited)")


def override_reason(override: bool, reason: str | None) -> str | None:
    """--override-freeze needs --reason (and --reason alone means nothing)."""
    if not override:
        if reason is not None:
            raise UsageError("--reason goes with --override-freeze (say why the freeze is overridden)")
        return None
    if reason is None:
        raise UsageError("--override-freeze needs --reason TEXT: the audit trail must say why the freeze was "
                         "overridden")
    return freeze_reason(reason)


def overridden(ctx: Context, actor: str, command: str, tenant: str | None, frozen: Sequence[Active],
               reason: str) -> str:
    """Record an override of the windows that hold (one audit row naming them and the reason); the plan's note."""
    ctx.store.audit(actor, command, tenant, "freeze_overridden",
                    {"freezes": [{"name": a.freeze.name, "window": a.freeze.window.text,
                                  "tenant": a.freeze.tenant, "ends": a.ends.isoformat()} for a in frozen],
                     "reason": reason})
    return f"inside {says(frozen)}: overridden by {actor}: {reason}"


def refuse_rollout(ctx: Context, actor: str, override: str | None) -> None:
    """A global freeze refuses a whole rollout (recorded), before any tenant is touched; overridden, it is recorded
    once for the rollout (and again by each tenant's deploy)."""
    frozen = global_active(ctx)
    if not frozen:
        return
    if override is not None:
        overridden(ctx, actor, "rollout", None, frozen, override)
        return
    refused = refusal("the fleet", frozen, "tagpin rollout")
    ctx.store.audit(actor, "rollout", None, "refused", {"error": str(refused), "kind": "Refused"})
    raise refused
