"""Drift: compare what a tenant's swarm runs with its template and the registry, and name each gap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from bot.domain.references import SHA256, ImageRef, parse_reference
from bot.domain.stacks import Pin, ServiceTemplate
from bot.domain.versions import Version, parse_tag
from bot.errors import ImageReferenceError

# `unknown`: a service that could not be judged (registry down, 5xx, rate-limited) -- never reported as ok.
# The last three are the watcher's own: users on an old client build, a registry that rate-limits us, and a scan
# that could not judge every service.
Kind = Literal["behind", "tag_moved", "unpinned", "partial_rollout", "missing", "scaled_down", "unknown",
               "outdated_client", "registry_limited", "scan_incomplete"]
KINDS: tuple[Kind, ...] = ("missing", "unpinned", "tag_moved", "partial_rollout", "scaled_down", "unknown", "behind")
# Update states where Swarm stopped half-way and waits for a human (UpdateStatus.State).
STUCK_STATES = frozenset({"paused", "rollback_paused"})


@dataclass(frozen=True)
class Observed:
    """One running service, as Swarm reports it."""

    service: str
    spec_image: str
    running_digests: tuple[str, ...]
    running: int
    desired: int
    update_state: str | None
    replicas: int | None = None      # the spec's replica count (None: a global service)
    nodes: tuple[str, ...] = ()      # what keeps nodes from running the spec, one line a node (node_troubles)


@dataclass(frozen=True)
class Available:
    """What the registry offers now for one template service."""

    best: Pin | None  # the highest tag the policy allows
    spec_tag_digest: str | None  # what the spec's tag points to now (None: unknown or deleted)
    unknown: str | None = None  # why the registry could not say (then best is None and nothing is judged ok)


@dataclass(frozen=True)
class Finding:
    tenant: str
    service: str
    kind: Kind
    running: str | None
    target: str | None
    detail: str

    def key(self) -> tuple[str, str, str, str | None, str | None]:
        """Identity of a finding across scans: the watcher notifies once per key."""
        return (self.tenant, self.service, self.kind, self.running, self.target)


def _digest_of(text: str) -> str:
    found = SHA256.search(text)
    return found.group(0) if found else text


def _rollout(tenant: str, name: str, obs: Observed, spec: ImageRef | None) -> Finding | None:
    digests = sorted({_digest_of(d) for d in obs.running_digests})
    reasons = []
    if len(digests) > 1:
        reasons.append(f"tasks run {len(digests)} different digests")
    if spec is not None and spec.digest is not None and any(d != spec.digest for d in digests):
        reasons.append(f"tasks run {', '.join(d[:19] for d in digests if d != spec.digest)}, "
                       f"not the spec's {spec.digest[:19]}")
    if obs.desired > 0 and obs.running < obs.desired:
        reasons.append(f"{obs.running}/{obs.desired} tasks running")
    if obs.update_state in STUCK_STATES:
        reasons.append(f"update {obs.update_state.replace('_', ' ')}")
    reasons.extend(obs.nodes)
    if not reasons:
        return None
    if obs.update_state == "updating":
        reasons.append("an update is in progress")
    base = spec.name() if spec is not None else obs.spec_image.split("@")[0]
    running = ",".join(f"{base}@{d}" for d in digests) or None
    return Finding(tenant, name, "partial_rollout", running, obs.spec_image, f"{name}: " + "; ".join(reasons))


def wanted_replicas(document: Mapping[str, Any], service: str) -> int | None:
    """The template's replica count for a service: `deploy.replicas` (compose's default 1), None when global."""
    spec = (document.get("services") or {}).get(service) or {}
    deploy = spec.get("deploy") or {}
    if deploy.get("mode") == "global":
        return None
    replicas = deploy.get("replicas", 1)
    return replicas if isinstance(replicas, int) else None


def _scaled_down(tenant: str, name: str, obs: Observed, wanted: int | None) -> Finding | None:
    # `replicas: 0` in the template is a choice; 0 where the template wants tasks is someone's scale-down.
    if obs.replicas != 0 or not wanted:
        return None
    return Finding(tenant, name, "scaled_down", obs.spec_image, obs.spec_image,
                   f"{name} is scaled to 0 replicas; the template wants {wanted}: nothing runs")


def _unknown(tenant: str, name: str, running: str | None, avail: Available | None) -> list[Finding]:
    if avail is None or avail.unknown is None:
        return []
    return [Finding(tenant, name, "unknown", running, None,
                    f"{name}: drift unknown, the registry could not say what is available ({avail.unknown})")]


def _service(tenant: str, template: ServiceTemplate, obs: Observed, avail: Available | None,
             wanted: int | None) -> list[Finding]:
    name, policy = template.name, template.policy
    best = avail.best if avail is not None else None
    best_ref = template.image.pinned(best.tag, best.digest) if best is not None else None
    try:
        spec: ImageRef | None = parse_reference(obs.spec_image)
    except ImageReferenceError:
        spec = None
    # A running prerelease is still a version tag, even under a policy that would not pick one.
    spec_policy = replace(policy, prerelease=True)
    version = parse_tag(spec.tag, spec_policy) if spec is not None and spec.tag is not None else None
    found: list[Finding] = []
    if spec is None or spec.digest is None or not isinstance(version, Version):
        why = ("has no digest" if spec is not None and spec.digest is None and isinstance(version, Version)
               else "has no version tag")
        found.append(Finding(tenant, name, "unpinned", obs.spec_image, best_ref,
                             f"{name} runs {obs.spec_image}, which {why}: nodes may run any content"))
    if (spec is not None and spec.tag is not None and spec.digest is not None and avail is not None
            and avail.spec_tag_digest is not None and avail.spec_tag_digest != spec.digest):
        moved = template.image.pinned(spec.tag, avail.spec_tag_digest)
        found.append(Finding(tenant, name, "tag_moved", obs.spec_image, moved,
                             f"{name}: tag {spec.tag} was re-pushed; it now points to "
                             f"{avail.spec_tag_digest[:19]}, the service runs {spec.digest[:19]}"))
    rollout = _rollout(tenant, name, obs, spec)
    if rollout is not None:
        found.append(rollout)
    scaled = _scaled_down(tenant, name, obs, wanted)
    if scaled is not None:
        found.append(scaled)
    found.extend(_unknown(tenant, name, obs.spec_image, avail))
    if best is not None and isinstance(version, Version):
        newest = parse_tag(best.tag, policy)
        if isinstance(newest, Version) and newest > version:
            found.append(Finding(tenant, name, "behind", obs.spec_image, best_ref,
                                 f"{name} runs {spec.tag if spec else obs.spec_image}; "
                                 f"{best.tag} is the newest its policy allows"
                                 + (f" (held at {policy.held})" if policy.held else "")))
    return found


def find_drift(tenant: str, templates: Sequence[ServiceTemplate], observed: Mapping[str, Observed],
               available: Mapping[str, Available], replicas: Mapping[str, int | None] | None = None
               ) -> list[Finding]:
    """Every finding for one tenant, ordered by service name, then kind (most urgent first).

    `replicas` is what the template wants per service (see wanted_replicas); without it scale-downs are not judged."""
    findings: list[Finding] = []
    for template in templates:
        obs = observed.get(template.name)
        avail = available.get(template.name)
        if obs is None:
            best = avail.best if avail is not None else None
            target = template.image.pinned(best.tag, best.digest) if best is not None else None
            findings.append(Finding(tenant, template.name, "missing", None, target,
                                    f"{template.name} is in the template but not running in stack {tenant}"))
            findings.extend(_unknown(tenant, template.name, None, avail))   # what it should run is unknown too
            continue
        findings.extend(_service(tenant, template, obs, avail, (replicas or {}).get(template.name)))
    return sorted(findings, key=lambda f: (f.service, KINDS.index(f.kind)))
