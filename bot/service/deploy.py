"""Deploy and rollback: resolve → plan → confirm → render → validate → apply → verify → record, under a lock."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.converge import ConvergeReport
from bot.domain.plans import Plan, make_plan
from bot.domain.references import parse_reference
from bot.domain.stacks import Pin, render, validate_rendered
from bot.domain.tenants import validate_tenant
from bot.errors import ConfirmationRequired, NotFound, TagpinError
from bot.service.context import Context
from bot.service.targets import current_pins, targets

Step = Callable[[str, str], None]          # (step, detail): resolving | planned | applying | verifying | done


@dataclass
class DeployResult:
    tenant: str
    outcome: str                            # planned | converged | rolled_back | failed | refused
    plan: Plan | None = None
    compose: str = ""
    deployment_id: int | None = None
    message: str = ""
    report: ConvergeReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in ("planned", "converged")

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan.as_dict() if self.plan is not None else {}
        return {
            "tenant": self.tenant, "deployment_id": self.deployment_id, "outcome": self.outcome,
            "services": plan.get("services", []), "risks": list(self.plan.risks) if self.plan else [],
            "plan_digest": self.plan.digest() if self.plan else None, "compose": self.compose,
            "message": self.message,
            "verification": [vars(r) for r in self.report.services] if self.report else [],
            "seconds": round(self.report.seconds, 2) if self.report else None, **self.extra,
        }


class Deployer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def lock_ttl(self) -> float:
        """Long enough for a rollout, its rollback and the records; a crashed holder's lock expires after it."""
        return self.ctx.settings.converge_timeout * 3 + 60

    def deploy(self, tenant: str, actor: str, *, dry_run: bool = False, overrides: Mapping[str, str] | None = None,
               allow_downgrade: bool = False, confirm: Callable[[Plan], bool] = lambda plan: False,
               plan_digest: str | None = None, on_step: Step = lambda step, detail: None) -> DeployResult:
        tenant = validate_tenant(tenant)
        store = self.ctx.store
        token: str | None = None
        try:
            if not dry_run:
                token = store.acquire(tenant, actor, ttl=self.lock_ttl)
            return self._deploy(tenant, actor, dry_run, dict(overrides or {}), allow_downgrade, confirm,
                                plan_digest, on_step, token)
        except TagpinError as exc:
            # A plan that waits for a human is not a refusal; the audit trail says which it was.
            outcome = "awaiting_confirmation" if isinstance(exc, ConfirmationRequired) else "refused"
            store.audit(actor, "deploy", tenant, outcome, {"error": str(exc), "kind": type(exc).__name__})
            raise
        finally:
            if token is not None:
                store.release(tenant, token)

    def _deploy(self, tenant: str, actor: str, dry_run: bool, overrides: dict[str, str], allow_downgrade: bool,
                confirm: Callable[[Plan], bool], plan_digest: str | None, on_step: Step,
                token: str | None) -> DeployResult:
        ctx, store = self.ctx, self.ctx.store
        template = ctx.template()
        on_step("resolving", f"{len(template.services)} services")
        current = current_pins(ctx, tenant)
        new_tenant = store.tenant(tenant) is None
        pins = targets(ctx, template, current, overrides, allow_downgrade)
        plan = make_plan(tenant, new_tenant, template.services, current, pins)
        compose = render(template, tenant, pins)          # render validates what it wrote
        on_step("planned", "; ".join(plan.risks) or "no risks")
        if dry_run:
            store.audit(actor, "deploy --dry-run", tenant, "planned", {"plan": plan.as_dict()})
            return DeployResult(tenant, "planned", plan, compose, message="dry run: nothing applied")
        if plan_digest is not None and plan_digest != plan.digest():
            raise ConfirmationRequired("the plan changed since it was confirmed; review the new plan and "
                                       "confirm again", plan)
        if plan.risky and plan_digest is None and not confirm(plan):
            raise ConfirmationRequired("this deploy needs confirmation: " + "; ".join(plan.risks), plan)
        return self.apply(tenant, actor, "deploy", plan, compose, pins, new_tenant, on_step, token)

    def apply(self, tenant: str, actor: str, command: str, plan: Plan, compose: str, pins: Mapping[str, Pin],
              new_tenant: bool, on_step: Step, token: str | None) -> DeployResult:
        store = self.ctx.store
        references = {c.name: c.reference for c in plan.services}
        row = store.start_deployment(tenant=tenant, actor=actor, command=command, plan=json.dumps(plan.as_dict()),
                                     plan_digest=plan.digest(), references=json.dumps(references),
                                     compose=compose)
        assert row.id is not None
        if token is not None:
            store.attach_lock(tenant, token, row.id)
        if new_tenant:
            store.add_tenant(tenant, actor)
            store.audit(actor, "onboard", tenant, "created", deployment_id=row.id)
        try:
            return self._apply(tenant, actor, command, plan, compose, pins, on_step, row.id, references)
        except BaseException as exc:
            # Never leave a deployment "running" behind: a bug or an interrupt still ends it, audited.
            message = f"interrupted: {type(exc).__name__}: {exc}"
            store.update_deployment(row.id, outcome="failed", message=message)
            store.audit(actor, command, tenant, "failed", {"error": message}, deployment_id=row.id)
            raise

    def _apply(self, tenant: str, actor: str, command: str, plan: Plan, compose: str, pins: Mapping[str, Pin],
               on_step: Step, deployment_id: int, references: Mapping[str, str]) -> DeployResult:
        ctx, store = self.ctx, self.ctx.store
        on_step("applying", f"deployment #{deployment_id}")
        try:
            ctx.swarm.deploy(tenant, compose)
        except TagpinError as exc:
            store.update_deployment(deployment_id, outcome="failed", message=str(exc))
            store.audit(actor, command, tenant, "failed", {"error": str(exc)}, deployment_id=deployment_id)
            return DeployResult(tenant, "failed", plan, compose, deployment_id, str(exc))
        on_step("verifying", "waiting for every task to run its digest")
        wanted = {name: pin.digest for name, pin in pins.items()}
        timeout = ctx.settings.converge_timeout
        report = ctx.converger.wait(tenant, wanted, timeout)
        if report.outcome == "failed" and "within" in report.message:
            late = [r.name for r in report.services if r.state != "converged"]
            on_step("rolling back", ", ".join(late))
            back = ctx.converger.roll_back(tenant, late, timeout)
            report = ConvergeReport(back.outcome, report.services, report.seconds + back.seconds,
                                    f"{report.message}; rollback: {back.message}")
        store.update_deployment(deployment_id, outcome=report.outcome, message=report.message,
                                seconds=round(report.seconds, 2))
        detail = {"references": dict(references), "message": report.message, "seconds": round(report.seconds, 2)}
        store.audit(actor, command, tenant, report.outcome, detail, deployment_id=deployment_id)
        on_step("done", f"{report.outcome}: {report.message}")
        return DeployResult(tenant, report.outcome, plan, compose, deployment_id, report.message, report)

    def rollback(self, tenant: str, actor: str, on_step: Step = lambda step, detail: None) -> DeployResult:
        """Redeploy the exact rendered file of the previous converged deployment."""
        tenant = validate_tenant(tenant)
        store = self.ctx.store
        token: str | None = None
        try:
            token = store.acquire(tenant, actor, ttl=self.lock_ttl)
            done = store.converged(tenant, limit=2)
            if len(done) < 2:
                raise NotFound(f"{tenant} has no earlier converged deployment to roll back to")
            previous = done[1]
            validate_rendered(previous.compose)
            refs = json.loads(previous.references)
            pins = {name: Pin(parse_reference(ref).tag or "", parse_reference(ref).digest or "")
                    for name, ref in refs.items()}
            current = current_pins(self.ctx, tenant)
            plan = make_plan(tenant, False, self.ctx.template().services, current, pins)
            result = self.apply(tenant, actor, "rollback", plan, previous.compose, pins, False, on_step, token)
            result.extra["rolled_back_to"] = previous.id
            return result
        except TagpinError as exc:
            store.audit(actor, "rollback", tenant, "refused", {"error": str(exc)})
            raise
        finally:
            if token is not None:
                store.release(tenant, token)
