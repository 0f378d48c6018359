"""A deploy's or rollback's plan, made from the template and the registry -- or replayed from a parked one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.domain.plans import Plan, Running, make_plan
from bot.domain.platforms import cannot_run
from bot.domain.stacks import Pin, StackTemplate, fingerprint, render
from bot.domain.versions import Version, parse_tag
from bot.errors import NoPlatform
from bot.service.context import Context
from bot.service.fleet import held_services
from bot.service.pending import Pending
from bot.service.progress import Say
from bot.service.results import Command
from bot.service.rollback import RollbackPlan, rollback_plan
from bot.service.targets import current_pins, targets


@dataclass(frozen=True)
class Made:
    """A plan and what it was made of (what a parked plan keeps to be applied as shown)."""

    plan: Plan
    compose: str
    pins: dict[str, Pin]
    new_tenant: bool = False
    template: str = ""                      # the template's fingerprint
    notes: list[str] = field(default_factory=list)
    back: RollbackPlan | None = None        # a rollback: the release it returns to and the one it leaves


def _rollback(ctx: Context, tenant: str, say: Say) -> Made:
    back = rollback_plan(ctx, tenant)
    say("planned", back.describe())
    return Made(back.plan, back.compose, back.pins, back=back)


def tenant_template(ctx: Context, tenant: str) -> tuple[StackTemplate, list[str]]:
    """The template as it applies to `tenant`: each held service's policy narrowed to its hold (the document, and so
    the fingerprint, unchanged); and a note per hold, so a plan says why a service stays where it is."""
    template = ctx.template()
    services = held_services(ctx, tenant, template.services)
    holds = ctx.tables.fleet.holds(tenant).get(tenant, {})
    return replace(template, services=services), [f"{name}: {h.says()}" for name, h in sorted(holds.items())]


def _still_held(template: StackTemplate, pins: Mapping[str, Pin]) -> bool:
    for svc in template.services:
        version = parse_tag(pins[svc.name].tag, svc.policy) if svc.name in pins else None
        if isinstance(version, Version) and svc.policy.holds_back(version):
            return False
    return True


def check_platforms(ctx: Context, template: StackTemplate, current: Mapping[str, Running],
                    pins: Mapping[str, Pin]) -> None:
    """Refuse, before anything is applied, a multi-arch index no node of the swarm could pull. Swarm would say only
    "No such image" after the stack was created -- the same words as for a node without credentials. A digest
    already running is not asked about; nor is a single image (no extra request, nor Engine call, for those)."""
    if ctx.platforms is None:
        return
    nodes: frozenset[str] | None = None
    why: list[str] = []
    for svc in template.services:
        pin, running = pins.get(svc.name), current.get(svc.name)
        if pin is None or (running is not None and running.digest == pin.digest):
            continue
        offered = ctx.platforms.platforms(svc.image, pin.digest)
        if offered and nodes is None:
            nodes = ctx.swarm.platforms()
        reason = cannot_run(f"{svc.name}: {svc.image.pinned(pin.tag, pin.digest)}", offered, nodes or ())
        if reason is not None:
            why.append(reason)
    if why:
        raise NoPlatform("; ".join(why) + " -- nothing was deployed")


def make(ctx: Context, tenant: str, command: Command, overrides: Mapping[str, str], allow_downgrade: bool,
         say: Say) -> Made:
    """The plan from what the template allows and the registry has now (a rollback: from the release line)."""
    if command == "rollback":
        return _rollback(ctx, tenant, say)
    template, notes = tenant_template(ctx, tenant)
    say("resolving", f"{len(template.services)} services")
    current = current_pins(ctx, tenant)
    new_tenant = ctx.store.tenant(tenant) is None
    pins = targets(ctx, template, current, overrides, allow_downgrade, notes)
    check_platforms(ctx, template, current, pins)
    plan = make_plan(tenant, new_tenant, template.services, current, pins)
    compose = render(template, tenant, pins)          # render validates what it wrote
    say("planned", "; ".join([*plan.risks, *notes]) or "no risks")
    return Made(plan, compose, pins, new_tenant, fingerprint(template), notes)


def replay(ctx: Context, p: Pending, say: Say) -> Made | None:
    """The parked plan made again from the pins it kept and what Swarm runs now -- no registry request; None when
    the template changed since (then the plan must be made anew)."""
    if p.command == "rollback":
        return _rollback(ctx, p.tenant, say)
    template, _ = tenant_template(ctx, p.tenant)
    pins = p.shown_pins()
    if fingerprint(template) != p.template or set(pins) != {s.name for s in template.services}:
        return None
    if not _still_held(template, pins):       # held since it was parked: made anew, within the hold
        return None
    new_tenant = ctx.store.tenant(p.tenant) is None
    plan = make_plan(p.tenant, new_tenant, template.services, current_pins(ctx, p.tenant), pins)
    say("planned", f"the confirmed plan {p.digest[:12]}")
    return Made(plan, render(template, p.tenant, pins), pins, new_tenant, p.template, list(p.notes))
