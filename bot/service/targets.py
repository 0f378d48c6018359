"""Targets of a deploy: what each service pins now (from Swarm) and what it should pin (policy or an override)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from bot.domain.plans import Running
from bot.domain.stacks import Pin, ServiceTemplate, StackTemplate
from bot.domain.versions import Rejection, Version, parse_tag
from bot.errors import NotFound, UsageError
from bot.service.context import Context
from bot.service.resolve import DELETED_WHILE_RESOLVING, Registry, resolve


def current_pins(ctx: Context, tenant: str) -> dict[str, Running]:
    """What each service's spec pins now, from Swarm (absent services are simply not in the map)."""
    out: dict[str, Running] = {}
    for name, svc in ctx.swarm.stack(tenant).items():
        ref = svc.spec
        out[name] = Running(svc.image, ref.tag if ref else None, ref.digest if ref else None)
    return out


def _refused(service: str, tag: str, why: str) -> UsageError:
    # Worded for every front end: the CLI writes an override `--set frontend=1.2.3`, Slack `frontend@1.2.3`.
    return UsageError(f"cannot pin {service} to {tag}: {why}")


def _override(template: StackTemplate, overrides: Mapping[str, str]) -> None:
    names = {s.name for s in template.services}
    for service, tag in overrides.items():
        if service not in names:
            raise _refused(service, tag, f"the stack has no service {service!r} "
                           f"(services: {', '.join(sorted(names))})")


def _pin_override(registry: Registry, svc: ServiceTemplate, tag: str, running_tag: str | None,
                  allow_downgrade: bool) -> Pin:
    parsed = parse_tag(tag, svc.policy)
    if isinstance(parsed, Rejection):
        raise _refused(svc.name, tag, parsed.reason)
    if svc.policy.holds_back(parsed):
        raise _refused(svc.name, tag, f"the tenant is held at {svc.policy.held} for {svc.name} (tagpin unhold "
                       "lifts it)")
    running = parse_tag(running_tag, svc.policy) if running_tag else None
    if isinstance(running, Version) and parsed < running and not allow_downgrade:
        raise _refused(svc.name, tag, f"it is below the running {running_tag}; add --allow-downgrade to deploy "
                       "it anyway")
    digest = registry.digest(svc.image, tag)
    if digest is None:
        raise NotFound(f"{svc.image.name()}:{tag} does not exist in the registry")
    return Pin(tag, digest)


def targets(ctx: Context, template: StackTemplate, current: Mapping[str, Running], overrides: Mapping[str, str],
            allow_downgrade: bool, notes: list[str] | None = None, registry: Registry | None = None
            ) -> dict[str, Pin]:
    """The pin of every service: an explicit override tag (still a version), else the policy's best.

    Services resolve in parallel (the registry client shares one listing per repository between threads):
    a deploy waits for the slowest repository, not for the sum of them. `registry`: a memo over ctx.registry (a
    rollout's, shared by every tenant)."""
    _override(template, overrides)
    reg = registry or ctx.registry

    def pin(svc: ServiceTemplate) -> Pin:
        running = current.get(svc.name)
        running_tag = running.tag if running else None
        if svc.name in overrides:
            return _pin_override(reg, svc, overrides[svc.name], running_tag, allow_downgrade)
        found = resolve(reg, svc.image, svc.policy, current=running_tag, allow_downgrade=allow_downgrade,
                        ages=ctx.ages)
        deleted = [r.tag for r in found.skipped if r.reason == DELETED_WHILE_RESOLVING]
        if notes is not None and deleted:             # a better tag vanished mid-resolve: say so, never silently
            notes.append(f"{svc.name}: {', '.join(deleted)} {'were' if len(deleted) > 1 else 'was'} deleted from "
                         f"the registry while resolving; {found.tag} chosen")
        if notes is not None:                          # a newer release passed over for its age: said, with why
            notes.extend(f"{svc.name}: {r.tag} skipped, {r.reason}; {found.tag} chosen" for r in found.skipped
                         if r.reason != DELETED_WHILE_RESOLVING)
        return Pin(found.tag, found.digest)

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(template.services)))) as pool:
        pins = list(pool.map(pin, template.services))
    return {svc.name: p for svc, p in zip(template.services, pins, strict=True)}
