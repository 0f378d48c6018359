"""Status and drift: what runs versus what should, from one swarm listing and one tag listing per repository."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from bot.domain.drift import Available, Finding, Observed, find_drift, wanted_replicas
from bot.domain.holds import held
from bot.domain.references import ImageRef
from bot.domain.running import NodeState, ServiceState, digest_of
from bot.domain.stacks import Pin, ServiceTemplate, StackTemplate
from bot.domain.tenants import validate_tenant
from bot.errors import NotFound, TagpinError
from bot.service.context import Context
from bot.service.fleet import hold_json
from bot.service.freezing import active_for
from bot.service.reconcile import reconcile
from bot.service.resolve import Ages, Registry, resolve
from bot.service.views import DriftJSON, FindingJSON, ServiceStatusJSON, TaskJSON, TenantStatusJSON


@dataclass
class ScanRegistry:
    """One scan's memo over the registry: each repository listed once, each (repository, tag) looked up once."""

    inner: Registry
    _tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _digests: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def tags(self, image: ImageRef) -> tuple[str, ...]:
        key = image.name()
        if key not in self._tags:
            self._tags[key] = self.inner.tags(image)
        return self._tags[key]

    def digest(self, image: ImageRef, tag: str) -> str | None:
        key = (image.name(), tag)
        if key not in self._digests:
            self._digests[key] = self.inner.digest(image, tag)
        return self._digests[key]


def observed(svc: ServiceState, nodes: Mapping[str, NodeState] | None = None) -> Observed:
    """What drift judges of one service; with `nodes` (the node list), what keeps a node from running it."""
    return Observed(svc.short_name, svc.image, svc.running_digests, svc.running,
                    svc.desired_tasks, svc.update_state, svc.desired if svc.desired >= 0 else None,
                    svc.node_troubles(nodes) if nodes is not None else ())


@dataclass
class Scan:
    tenants: list[str]
    stacks: dict[str, dict[str, ServiceState]]
    findings: list[Finding] = field(default_factory=list)
    errors: list[TagpinError] = field(default_factory=list)      # registry trouble, once per distinct message

    @property
    def unknown(self) -> list[Finding]:
        """The services this scan could not judge: while there are any, the scan is incomplete, never all-clear."""
        return [f for f in self.findings if f.kind == "unknown"]

    @property
    def complete(self) -> bool:
        return not self.unknown


def available(registry: Registry, template: ServiceTemplate, svc: ServiceState | None, ages: Ages | None = None
              ) -> tuple[Available, TagpinError | None]:
    """The best allowed pin now (old enough, under min_age) and the spec tag's current digest; a registry error
    becomes a note, not a crash."""
    spec_tag = svc.spec.tag if svc is not None and svc.spec is not None else None
    try:
        best = resolve(registry, template.image, template.policy, current=spec_tag, allow_downgrade=True,
                       ages=ages)
        moved = registry.digest(template.image, spec_tag) if spec_tag else None
        return Available(Pin(best.tag, best.digest), moved), None
    except TagpinError as exc:
        return Available(None, None, unknown=str(exc)), exc


class Observer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def status(self, tenant: str, actor: str = "cli") -> TenantStatusJSON:
        tenant = validate_tenant(tenant)
        template = self.ctx.template()
        holds = self.ctx.tables.fleet.holds(tenant).get(tenant, {})
        held_services = held(template.services, holds)
        reconciled = reconcile(self.ctx, tenant)      # what a killed or interrupted deploy left, judged from Swarm
        stack = self.ctx.swarm.stack(tenant)
        if not stack and self.ctx.store.tenant(tenant) is None:
            raise not_onboarded([tenant])
        nodes = self.ctx.swarm.nodes() if stack else {}
        registry = ScanRegistry(self.ctx.registry)
        services: list[ServiceStatusJSON] = []
        avail: dict[str, Available] = {}
        notes: dict[str, str] = {}
        for t in held_services:
            avail[t.name], error = available(registry, t, stack.get(t.name), self.ctx.ages)
            notes[t.name] = str(error) if error else ""
        findings = find_drift(tenant, held_services, {n: observed(s, nodes) for n, s in stack.items()}, avail,
                              replicas(template))
        for t in held_services:
            svc, best = stack.get(t.name), avail[t.name].best
            spec = svc.image if svc else None
            services.append({
                "name": t.name, "image": t.image.name(), "spec_reference": spec,
                "running_digests": list(svc.running_digests) if svc else [],
                "replicas": {"running": svc.running if svc else 0,
                             "desired": svc.desired_tasks if svc else 0},
                "update_state": svc.update_state if svc else None,
                "available": {"tag": best.tag, "digest": best.digest} if best else None,
                "registry_note": notes[t.name] or None,
                "held": hold_json(holds[t.name]) if t.name in holds else None,
                "drift": [finding_dict(f) for f in findings if f.service == t.name],
                "tasks": tasks_json(svc, nodes) if svc else [],
            })
        unknown = sum(1 for f in findings if f.kind == "unknown")
        self.ctx.store.audit(actor, "status", tenant, "incomplete" if unknown else "ok")
        return {"tenant": tenant, "services": services, "complete": not unknown, "unknown": unknown,
                "reconciled": reconciled,
                "freezes": [f"inside {a.says()}: a deploy now is refused" for a in active_for(self.ctx, tenant)]}

    def scan(self, tenants: Iterable[str] = (), registry: Registry | None = None,
             only: Collection[str] | None = None) -> Scan:
        """Every wanted tenant (default: all onboarded) against the template and the registry, in one pass; `only`:
        just those services of the template (what a registry push concerns)."""
        named = [validate_tenant(t) for t in tenants]
        onboarded = [t.name for t in self.ctx.store.tenants()]
        wanted = named or onboarded
        template = self.ctx.template()
        stacks = self.ctx.swarm.stacks(wanted)
        unknown = [t for t in named if t not in onboarded and t not in stacks]
        if unknown:
            raise not_onboarded(unknown)
        nodes = self.ctx.swarm.nodes() if stacks else {}
        registry = registry or ScanRegistry(self.ctx.registry)
        scan = Scan(wanted, stacks)
        holds = self.ctx.tables.fleet.holds()          # every tenant's, in one query
        for tenant in wanted:
            stack = stacks.get(tenant, {})
            services = [t for t in held(template.services, holds.get(tenant, {})) if only is None or t.name in only]
            avail = {}
            for t in services:
                avail[t.name], error = available(registry, t, stack.get(t.name), self.ctx.ages)
                if error is not None and str(error) not in [str(e) for e in scan.errors]:
                    scan.errors.append(error)
            scan.findings.extend(find_drift(tenant, services,
                                            {n: observed(s, nodes) for n, s in stack.items()}, avail,
                                            replicas(template)))
        return scan

    def drift(self, tenants: Iterable[str] = (), source: str = "cli", actor: str = "cli") -> DriftJSON:
        scan = self.scan(tenants)
        wanted, findings = scan.tenants, scan.findings
        previous = self.ctx.store.last_scan()
        watcher = self.ctx.store.last_scan("watch")
        record = self.ctx.store.record_scan(len(wanted), len(findings), source)
        outcome = "incomplete" if not scan.complete else "drift" if findings else "ok"
        self.ctx.store.audit(actor, "drift", wanted[0] if len(wanted) == 1 else None, outcome,
                             {"tenants": len(wanted), "findings": len(findings), "unknown": len(scan.unknown)})
        return {
            "tenants": wanted, "findings": [finding_dict(f) for f in findings], "complete": scan.complete,
            "unknown": len(scan.unknown),
            "registry_notes": [str(e) for e in scan.errors],
            "scanned_at": record.finished_at.isoformat(),
            "previous_scan_at": previous.finished_at.isoformat() if previous else None,
            "watcher_scan_at": watcher.finished_at.isoformat() if watcher else None,
        }


def tasks_json(svc: ServiceState, nodes: Mapping[str, NodeState]) -> list[TaskJSON]:
    """Each node's newest task of the service, by node name: what Swarm says runs where."""
    out: list[TaskJSON] = []
    for node_id, task in svc.per_node().items():
        node = nodes.get(node_id)
        out.append({"node": node.hostname if node else task.where, "node_state": node.state if node else "unknown",
                    "availability": node.availability if node else "unknown", "state": task.state,
                    "desired": task.desired, "digest": digest_of(task.image), "error": task.error or None})
    return sorted(out, key=lambda t: t["node"])


def not_onboarded(names: list[str]) -> NotFound:
    verb = "is" if len(names) == 1 else "are"
    return NotFound(f"{', '.join(names)} {verb} not onboarded and run{'s' if len(names) == 1 else ''} no stack "
                    f"(deploy it with: tagpin deploy {names[0]}; tagpin tenants lists the onboarded ones)")


def replicas(template: StackTemplate) -> dict[str, int | None]:
    return {t.name: wanted_replicas(template.document, t.name) for t in template.services}


def finding_dict(f: Finding) -> FindingJSON:
    return {"tenant": f.tenant, "service": f.service, "kind": f.kind, "running": f.running, "target": f.target,
            "detail": f.detail}
