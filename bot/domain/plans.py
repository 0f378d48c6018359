"""Deploy plans: what each service runs now against what it will run, with the flags that need a human."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, NotRequired, TypedDict

from bot.domain.stacks import Pin, ServiceTemplate
from bot.domain.versions import Version, is_major_jump, parse_tag
from bot.errors import PolicyError, StackError

Flag = Literal["new_tenant", "new_service", "unchanged", "upgrade", "downgrade", "major_jump", "tag_moved",
               "removed_service"]
# The flags a deploy must not apply without an explicit yes (DESIGN.md: new tenant, downgrade, major jump).
RISKY: frozenset[Flag] = frozenset({"new_tenant", "downgrade", "major_jump", "tag_moved"})
# A rollback goes back on purpose (down, to old content): what needs a yes there is a service going *up*.
RISKY_ROLLBACK: frozenset[Flag] = frozenset({"upgrade"})


# "from" is a keyword, so this shape is written in the functional syntax (DESIGN.md: `tagpin deploy --json`).
PlanServiceJSON = TypedDict("PlanServiceJSON", {
    "name": str, "from": str | None, "to": str | None, "flags": list[str], "note": NotRequired[str]})


class PlanJSON(TypedDict):
    tenant: str
    new_tenant: bool
    changed: bool
    risky: bool
    risks: list[str]
    digest: str
    services: list[PlanServiceJSON]
    removed: list[str]


@dataclass(frozen=True)
class Running:
    """What the tenant's service spec pins now; all None when the service does not exist."""

    reference: str | None
    tag: str | None
    digest: str | None


@dataclass(frozen=True)
class ServiceChange:
    name: str
    from_tag: str | None
    from_digest: str | None
    to_tag: str
    to_digest: str
    flags: frozenset[Flag]
    reference: str  # the pinned target reference
    from_reference: str | None = None
    note: str | None = None  # why a flag was chosen when the versions could not say (e.g. `latest` ran)


def _short(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "no digest"


@dataclass(frozen=True)
class Plan:
    tenant: str
    new_tenant: bool
    services: tuple[ServiceChange, ...]
    removed: tuple[str, ...]
    rollback: bool = False

    @property
    def risky(self) -> bool:
        risky = RISKY_ROLLBACK if self.rollback else RISKY
        return self.new_tenant or any(change.flags & risky for change in self.services)

    @property
    def risks(self) -> tuple[str, ...]:
        sentences = [f"{self.tenant}: new tenant, the stack will be created"] if self.new_tenant else []
        if self.rollback:
            return tuple(f"{c.name}: this rollback moves it up {c.from_tag} → {c.to_tag}"
                         for c in self.services if "upgrade" in c.flags)
        for c in self.services:
            if "downgrade" in c.flags:
                sentences.append(f"{c.name}: downgrade {c.from_tag} → {c.to_tag}")
            if "major_jump" in c.flags:
                sentences.append(f"{c.name}: major jump {c.from_tag} → {c.to_tag}")
            if "tag_moved" in c.flags:
                sentences.append(f"{c.name}: tag {c.to_tag} now points to other content "
                                 f"({_short(c.from_digest)} → {_short(c.to_digest)})")
        return tuple(sentences)

    @property
    def changed(self) -> bool:
        return self.new_tenant or bool(self.removed) or any(c.flags != {"unchanged"} for c in self.services)

    def _content(self) -> dict[str, Any]:
        # Everything a confirmation vouches for, full digests included; notes and wording are not.
        return {"tenant": self.tenant, "new_tenant": self.new_tenant, "removed": list(self.removed),
                **({"rollback": True} if self.rollback else {}),
                "services": [{"name": c.name, "from": [c.from_reference, c.from_tag, c.from_digest],
                              "to": c.reference, "flags": sorted(c.flags)} for c in self.services]}

    def digest(self) -> str:
        """sha256 hex of the plan's content: a confirmation given for one plan cannot apply another."""
        text = json.dumps(self._content(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def as_dict(self) -> PlanJSON:
        services: list[PlanServiceJSON] = []
        for c in self.services:
            service: PlanServiceJSON = {"name": c.name, "from": c.from_reference, "to": c.reference,
                                        "flags": sorted(c.flags)}
            if c.note:
                service["note"] = c.note
            services.append(service)
        services += [{"name": name, "from": None, "to": None, "flags": ["removed_service"]}
                     for name in self.removed]
        return {"tenant": self.tenant, "new_tenant": self.new_tenant, "changed": self.changed,
                "risky": self.risky, "risks": list(self.risks), "digest": self.digest(),
                "services": services, "removed": list(self.removed)}


def _flags(template: ServiceTemplate, now: Running, pin: Pin) -> tuple[set[Flag], str | None]:
    if now.reference is None:
        return {"new_service"}, None
    if now.tag == pin.tag:
        if now.digest == pin.digest:
            return {"unchanged"}, None
        if now.digest is None:
            return {"tag_moved"}, f"{now.reference} is not pinned by digest; the tag may have moved since"
        return {"tag_moved"}, None
    target = parse_tag(pin.tag, template.policy)
    if not isinstance(target, Version):
        raise PolicyError(f"service {template.name}: target tag {pin.tag!r} is not a version under its "
                          f"policy: {target.reason}")
    # A running prerelease still counts as a version even where candidates may not be prereleases.
    running_policy = replace(template.policy, prerelease=True)
    current = parse_tag(now.tag, running_policy) if now.tag is not None else None
    if not isinstance(current, Version):
        # The incident: `latest` (or no tag) ran; any version tag is an upgrade from "unknown".
        return {"upgrade"}, f"running {now.reference} has no version tag; pinning it to {pin.tag}"
    if target == current:  # two spellings of one version (v1.2.3 / 1.2.3, 17 / 17.0)
        return ({"unchanged"} if now.digest == pin.digest else {"tag_moved"}), None
    if target < current:
        return {"downgrade"}, None
    return ({"upgrade", "major_jump"} if is_major_jump(current, target) else {"upgrade"}), None


def make_plan(tenant: str, new_tenant: bool, templates: Sequence[ServiceTemplate],
              current: Mapping[str, Running], targets: Mapping[str, Pin], *, rollback: bool = False) -> Plan:
    """Compare `current` with `targets`, service by service in template order."""
    changes = []
    for template in templates:
        pin = targets.get(template.name)
        if pin is None:
            raise StackError(f"service {template.name}: no target tag chosen")
        now = current.get(template.name) or Running(None, None, None)
        flags, note = _flags(template, now, pin)
        if new_tenant:
            flags.add("new_tenant")
        reference = template.image.pinned(pin.tag, pin.digest)
        changes.append(ServiceChange(template.name, now.tag, now.digest, pin.tag, pin.digest,
                                     frozenset(flags), reference, now.reference, note))
    names = {t.name for t in templates}
    removed = tuple(sorted(n for n, r in current.items() if n not in names and r.reference is not None))
    return Plan(tenant, new_tenant, tuple(changes), removed, rollback)
