"""Tenant labels and holds: `tagpin tenants label`, `tagpin hold`, `tagpin unhold`, and the held policies that
deploys and drift use (a hold narrows a tenant's policy; it is lifted, never overridden)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.freezes import Freeze, freeze_name, freeze_reason, parse_window
from bot.domain.holds import Hold, held, hold_range, hold_reason, label_key, label_value
from bot.domain.stacks import ServiceTemplate
from bot.domain.tenants import validate_tenant
from bot.domain.versions import Version, parse_tag
from bot.errors import NotFound, UsageError
from bot.service.context import Context
from bot.service.views import FreezeJSON, HoldJSON


def hold_json(h: Hold) -> HoldJSON:
    return {"service": h.service, "range": h.range, "reason": h.reason, "by": h.by, "at": h.at.isoformat()}


def freeze_json(f: Freeze) -> FreezeJSON:
    return {"name": f.name, "window": f.window.text, "reason": f.reason, "by": f.by,
            "at": f.at.isoformat() if f.at else None}


def _onboarded(ctx: Context, tenant: str) -> str:
    tenant = validate_tenant(tenant)
    if ctx.store.tenant(tenant) is None:
        raise NotFound(f"{tenant} is not onboarded (tagpin tenants lists the onboarded ones)")
    return tenant


def parse_labels(pairs: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """KEY=VALUE sets a label, KEY- removes one (kubectl's spelling); a key named twice is refused."""
    put: dict[str, str] = {}
    remove: set[str] = set()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep and not (pair.endswith("-") and len(pair) > 1):
            raise UsageError(f"expected KEY=VALUE (set) or KEY- (remove), got {pair!r}")
        name = label_key(key if sep else pair[:-1])
        if name in put or name in remove:
            raise UsageError(f"label {name} is named twice")
        if sep:
            put[name] = label_value(name, value)
        else:
            remove.add(name)
    return put, remove


def label(ctx: Context, tenant: str, pairs: Sequence[str], actor: str) -> dict[str, Any]:
    put, remove = parse_labels(pairs)
    tenant = _onboarded(ctx, tenant)
    after = ctx.tables.fleet.label(tenant, put, remove)
    ctx.store.audit(actor, "label", tenant, "ok", {"set": put, "removed": sorted(remove)})
    return {"tenant": tenant, "labels": after}


def hold(ctx: Context, tenant: str, service: str, range_text: str, reason: str, actor: str) -> dict[str, Any]:
    """Hold one service of an onboarded tenant to a range (replacing its hold); says when what runs is outside."""
    why = hold_reason(reason)
    tenant = _onboarded(ctx, tenant)
    svc = _service(ctx, service)
    range_ = hold_range(range_text, svc.policy.prerelease)
    made, before = ctx.tables.fleet.hold(tenant, svc.name, range_, why, actor)
    ctx.store.audit(actor, "hold", tenant, "ok", {"service": svc.name, "range": range_, "reason": why,
                                                  "replaced": hold_json(before) if before else None})
    warning = _outside(ctx, tenant, held((svc,), {svc.name: made})[0])
    return {"tenant": tenant, "hold": hold_json(made), "replaced": hold_json(before) if before else None,
            "warning": warning}


def unhold(ctx: Context, tenant: str, service: str, actor: str) -> dict[str, Any]:
    tenant = _onboarded(ctx, tenant)
    name = _service(ctx, service).name
    lifted = ctx.tables.fleet.unhold(tenant, name)
    if lifted is None:
        raise UsageError(f"{tenant} has no hold on {name}; nothing was changed")
    ctx.store.audit(actor, "unhold", tenant, "ok", {"service": name, "lifted": hold_json(lifted)})
    return {"tenant": tenant, "lifted": hold_json(lifted)}


def _service(ctx: Context, service: str) -> ServiceTemplate:
    names = [s.name for s in ctx.template().services]
    if service not in names:
        raise UsageError(f"the stack has no service {service!r} (services: {', '.join(sorted(names))})")
    return ctx.template().service(service)


def _outside(ctx: Context, tenant: str, svc: ServiceTemplate) -> str | None:
    """What a hold cannot do: a service running a version outside it stays there (deploys never go down alone)."""
    running = ctx.swarm.stack(tenant).get(svc.name)
    tag = running.spec.tag if running is not None and running.spec is not None else None
    version = parse_tag(tag, svc.policy) if tag else None
    if isinstance(version, Version) and svc.policy.holds_back(version):
        return (f"{tenant} runs {svc.name} {tag}, outside the hold: a deploy will not move it down unless asked "
                f"(tagpin deploy {tenant} --set {svc.name}=TAG --allow-downgrade)")
    return None


def held_services(ctx: Context, tenant: str, services: Sequence[ServiceTemplate],
                  holds: dict[str, dict[str, Hold]] | None = None) -> tuple[ServiceTemplate, ...]:
    """The template's services as they apply to `tenant`: each held one narrowed to its hold. `holds` is every
    tenant's, read once by a caller that looks at many tenants."""
    mine = (ctx.tables.fleet.holds(tenant) if holds is None else holds).get(tenant, {})
    return held(services, mine)


def freeze(ctx: Context, tenant: str, window_text: str, reason: str, actor: str, name: str | None = None
           ) -> dict[str, Any]:
    """Freeze an onboarded tenant in a window (replacing the freeze of that name); a window over already is
    refused (it would freeze nothing)."""
    why = freeze_reason(reason)
    window = parse_window(window_text)
    tenant = _onboarded(ctx, tenant)
    if window.over(ctx.clock()):
        raise UsageError(f"freeze window {window.text!r} ended already; nothing was changed")
    mine = ctx.tables.fleet.freezes(tenant).get(tenant, {})
    if name is None:
        name = next(f"freeze-{n}" for n in range(1, len(mine) + 2) if f"freeze-{n}" not in mine)
    made, before = ctx.tables.fleet.freeze(tenant, freeze_name(name), window.text, why, actor)
    ctx.store.audit(actor, "freeze", tenant, "ok", {"freeze": freeze_json(made),
                                                    "replaced": freeze_json(before) if before else None})
    ends = made.window.ends(ctx.clock())
    return {"tenant": tenant, "freeze": freeze_json(made), "replaced": freeze_json(before) if before else None,
            "active_until": ends.isoformat() if ends else None}


def unfreeze(ctx: Context, tenant: str, name: str | None, actor: str) -> dict[str, Any]:
    tenant = _onboarded(ctx, tenant)
    lifted = ctx.tables.fleet.unfreeze(tenant, freeze_name(name) if name is not None else None)
    if not lifted:
        raise UsageError(f"{tenant} has no freeze{f' named {name}' if name else ''}; nothing was changed")
    ctx.store.audit(actor, "unfreeze", tenant, "ok", {"lifted": [freeze_json(f) for f in lifted]})
    return {"tenant": tenant, "lifted": [freeze_json(f) for f in lifted]}
