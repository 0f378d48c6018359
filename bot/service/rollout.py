"""A fleet rollout's plan: one release for many tenants, in waves (the canary first), made from what each tenant runs
now and what the registry holds -- each repository listed once for the whole fleet, each chosen tag looked up once."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain.freezes import Freeze
from bot.domain.holds import Hold
from bot.domain.plans import Plan, Running, make_plan
from bot.domain.stacks import Pin, StackTemplate
from bot.domain.tenants import validate_tenant
from bot.domain.versions import Version, parse_tag
from bot.errors import NotFound, TagpinError, UsageError
from bot.service import freezing
from bot.service.context import Context
from bot.service.fleet import held_services, parse_labels
from bot.service.observe import ScanRegistry, not_onboarded
from bot.service.resolve import Registry
from bot.service.targets import targets

DEFAULT_WAVES = "1,10%,100%"
CANARY = ("canary", "true")            # the label that puts a tenant in the first wave
_WAVE = re.compile(r"(?P<n>[1-9][0-9]*)(?P<pct>%?)")


@dataclass(frozen=True)
class Want:
    """What the rollout moves: every service (none named), or the named ones, each to its policy's best or to an
    exact version."""

    services: Mapping[str, str | None] = field(default_factory=dict)   # service -> version (None: policy's best)

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Want:
        out: dict[str, str | None] = {}
        for spec in specs:
            name, sep, version = spec.partition("@")
            if not name or (sep and not version):
                raise UsageError(f"expected SERVICE or SERVICE@VERSION, got {spec!r}")
            if name in out:
                raise UsageError(f"service {name} is named twice")
            out[name] = version or None
        return cls(out)


@dataclass(frozen=True)
class TenantStep:
    tenant: str
    plan: Plan | None = None             # None: skipped
    pins: Mapping[str, Pin] = field(default_factory=dict)
    skipped: str | None = None           # why it is left alone
    held: tuple[str, ...] = ()           # its holds, which keep it short of the others

    def as_dict(self) -> dict[str, Any]:
        if self.plan is None:
            return {"tenant": self.tenant, "skipped": self.skipped}
        changes = [{"service": c.name, "from": c.from_reference, "to": c.reference, "flags": sorted(c.flags)}
                   for c in self.plan.services if c.flags != {"unchanged"}]
        return {"tenant": self.tenant, "changes": changes, "risks": list(self.plan.risks), "held": list(self.held),
                "plan_digest": self.plan.digest()}


@dataclass(frozen=True)
class FleetPlan:
    want: Want
    waves: tuple[tuple[TenantStep, ...], ...]
    skipped: tuple[TenantStep, ...]
    wave_spec: str
    registry_requests: int = 0          # listings and digest lookups this plan made (the whole fleet's)
    registry: Registry | None = field(default=None, compare=False, repr=False)   # its memo, for the deploys
    freezes: tuple[str, ...] = ()       # the global freezes in force: applying it is refused (unless overridden)

    @property
    def risks(self) -> list[str]:
        return [f"{step.tenant}: {risk}" for wave in self.waves for step in wave
                for risk in (step.plan.risks if step.plan else ())]

    def digest(self) -> str:
        """sha256 of what a confirmation vouches for: every tenant's plan, wave by wave."""
        content = [[step.plan.digest() for step in wave if step.plan] for wave in self.waves]
        text = json.dumps({"waves": content, "want": dict(self.want.services)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {"services": dict(self.want.services) or "all", "wave_spec": self.wave_spec,
                "waves": [{"wave": n, "tenants": [s.as_dict() for s in wave]} for n, wave in enumerate(self.waves, 1)],
                "skipped": [s.as_dict() for s in self.skipped], "risks": self.risks, "risky": bool(self.risks),
                "digest": self.digest(), "registry_requests": self.registry_requests, "freezes": list(self.freezes)}


def wave_sizes(spec: str, count: int) -> list[int]:
    """Cumulative wave ends for `count` tenants: "1,10%,100%" of 40 is [1, 4, 40]; a wave that adds no tenant is
    dropped; the last must reach every tenant."""
    ends: list[int] = []
    parts = [p.strip() for p in spec.split(",")]
    for part in parts:
        m = _WAVE.fullmatch(part)
        if m is None or (m["pct"] and int(m["n"]) > 100):
            raise UsageError(f"--waves: {part!r} is neither a count (e.g. 1) nor a percentage up to 100% (e.g. 10%)")
        end = min(count, math.ceil(count * int(m["n"]) / 100) if m["pct"] else int(m["n"]))
        if ends and end < ends[-1]:
            raise UsageError(f"--waves {spec}: each wave must reach at least as far as the one before")
        ends.append(end)
    if count and ends[-1] < count:
        raise UsageError(f"--waves {spec} reaches {ends[-1]} of {count} tenant(s); end it with 100% (or narrow "
                         "the tenants with --tenants or --label)")
    return sorted(set(e for e in ends if e > 0))


def select_tenants(ctx: Context, tenants: str, label: str | None) -> list[str]:
    """The tenants a rollout is for, in rollout order: canary=true first, then by name."""
    onboarded = [t.name for t in ctx.store.tenants()]
    if tenants == "all":
        chosen = onboarded
    else:
        chosen = list(dict.fromkeys(validate_tenant(t.strip()) for t in tenants.split(",") if t.strip()))
        missing = [t for t in chosen if t not in onboarded]
        if missing:
            raise not_onboarded(missing)
    labels = ctx.tables.fleet.labels()
    if label is not None:
        put, remove = parse_labels([label])
        if remove or len(put) != 1:
            raise UsageError(f"--label expects KEY=VALUE, got {label!r}")
        ((key, value),) = put.items()
        chosen = [t for t in chosen if labels.get(t, {}).get(key) == value]
    if not chosen:
        raise NotFound("no tenant matches: tagpin tenants lists them with their labels")
    return sorted(chosen, key=lambda t: (labels.get(t, {}).get(CANARY[0]) != CANARY[1], t))


def _step(ctx: Context, tenant: str, template: StackTemplate, want: Want, current: Mapping[str, Running],
          holds: Mapping[str, Hold], registry: ScanRegistry,
          freezes: Mapping[str, Mapping[str, Freeze]] | None = None) -> TenantStep:
    frozen = freezing.tenant_active(ctx, tenant, freezes)
    if frozen and ctx.freeze_override is None:
        return TenantStep(tenant, skipped=f"frozen: {freezing.says(frozen)}")
    mine = replace(template, services=held_services(ctx, tenant, template.services, {tenant: dict(holds)}))
    overrides: dict[str, str] = {}
    for svc in mine.services:
        version = want.services.get(svc.name)
        if version is None:
            continue
        parsed = parse_tag(version, svc.policy)
        if isinstance(parsed, Version) and svc.policy.holds_back(parsed):
            return TenantStep(tenant, skipped=f"{svc.name} {holds[svc.name].says()}")
        overrides[svc.name] = version
    try:
        pins = targets(ctx, mine, current, overrides, allow_downgrade=False, registry=registry)
    except TagpinError as exc:
        return TenantStep(tenant, skipped=f"no plan: {exc}")
    if want.services:     # the services not named stay exactly as they run
        pins = {name: (pin if name in want.services or current.get(name) is None
                       or current[name].tag is None or current[name].digest is None
                       else Pin(str(current[name].tag), str(current[name].digest)))
                for name, pin in pins.items()}
    plan = make_plan(tenant, False, mine.services, current, pins)
    if not plan.changed:
        moved = [name for name in holds if not want.services or name in want.services]
        return TenantStep(tenant, skipped="already on the target" if not moved else
                          "held: " + "; ".join(f"{n} {holds[n].says()}" for n in sorted(moved))
                          + "; it runs what its holds allow")
    lock = ctx.store.live_lock(tenant)
    if lock is not None:
        return TenantStep(tenant, skipped=f"locked by {lock.holder}"
                          + (f" (deployment #{lock.deployment_id})" if lock.deployment_id else ""))
    return TenantStep(tenant, plan, pins, held=tuple(f"{name} {h.says()}" for name, h in sorted(holds.items())))


def plan_rollout(ctx: Context, want: Want, tenants: str = "all", label: str | None = None,
                 waves: str = DEFAULT_WAVES) -> FleetPlan:
    template = ctx.template()
    names = {s.name for s in template.services}
    unknown = sorted(set(want.services) - names)
    if unknown:
        raise UsageError(f"the stack has no service {', '.join(map(repr, unknown))} "
                         f"(services: {', '.join(sorted(names))})")
    for name, version in want.services.items():     # the template's own policy, the same for every tenant
        svc = template.service(name)
        if version is None:
            continue
        parsed = parse_tag(version, svc.policy)
        if not isinstance(parsed, Version):
            raise UsageError(f"cannot roll {name} out at {version}: {parsed.reason}")
        if svc.policy.range is not None and not svc.policy.range.test(parsed._key):
            raise UsageError(f"cannot roll {name} out at {version}: outside its constraint "
                             f"{svc.policy.constraint} for every tenant")
    chosen = select_tenants(ctx, tenants, label)
    wave_sizes(waves, len(chosen))                   # a bad --waves is refused before any registry request
    counting = _Counting(ctx.registry)
    registry = ScanRegistry(counting)
    for name, version in want.services.items():
        if version is not None and registry.digest(template.service(name).image, version) is None:
            raise NotFound(f"{template.service(name).image.name()}:{version} does not exist in the registry")
    stacks = ctx.swarm.stacks(chosen)                # one Engine call set for the whole fleet
    holds, freezes = ctx.tables.fleet.holds(), ctx.tables.fleet.freezes()
    steps = []
    for tenant in chosen:
        current = {name: Running(svc.image, svc.spec.tag if svc.spec else None,
                                 svc.spec.digest if svc.spec else None)
                   for name, svc in stacks.get(tenant, {}).items()}
        steps.append(_step(ctx, tenant, template, want, current, holds.get(tenant, {}), registry, freezes))
    moving = [s for s in steps if s.plan is not None]
    ends = wave_sizes(waves, len(moving))
    grouped = tuple(tuple(moving[start:end]) for start, end in zip([0, *ends], ends, strict=False))
    return FleetPlan(want, grouped, tuple(s for s in steps if s.plan is None), waves, counting.requests, registry,
                     tuple(a.says() for a in freezing.global_active(ctx)))


@dataclass
class _Counting:
    """The registry requests a rollout's plan makes (after the memo: what really went out)."""

    inner: Any
    requests: int = 0

    def tags(self, image: Any) -> tuple[str, ...]:
        self.requests += 1
        return tuple(self.inner.tags(image))

    def digest(self, image: Any, tag: str) -> str | None:
        self.requests += 1
        found: str | None = self.inner.digest(image, tag)
        return found
