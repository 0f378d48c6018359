"""Deploy and rollback: resolve → plan → confirm → render → validate → apply → verify → record, under a lease."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot import metrics
from bot.adapters.converge import ConvergeReport
from bot.adapters.locks import Lease
from bot.domain.plans import Plan, make_plan
from bot.domain.stacks import Pin, render
from bot.domain.tenants import validate_tenant
from bot.errors import ConfirmationRequired, Interrupted, TagpinError
from bot.service import stopping
from bot.service.context import Context
from bot.service.progress import BoundedSteps, Step
from bot.service.reconcile import reconcile
from bot.service.rollback import rollback_plan
from bot.service.targets import current_pins, targets
from bot.service.undo import undo_onboarding


@dataclass
class DeployResult:
    tenant: str
    outcome: str                            # planned | converged | rolled_back | failed | refused | interrupted
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
        return {
            "tenant": self.tenant, "deployment_id": self.deployment_id, "outcome": self.outcome,
            "services": self.plan.as_dict()["services"] if self.plan is not None else [],
            "risks": list(self.plan.risks) if self.plan else [],
            "plan_digest": self.plan.digest() if self.plan else None, "compose": self.compose,
            "message": self.message,
            "verification": [vars(r) for r in self.report.services] if self.report else [],
            "seconds": round(self.report.seconds, 2) if self.report else None, **self.extra,
        }


def _stop_point(before: str) -> None:
    """Between steps: a stop request (SIGTERM/SIGINT) ends the work here, before anything else is changed."""
    by = stopping.requested()
    if by is not None:
        raise Interrupted(f"interrupted by {by} before {before}; nothing more was changed")


def _confirmed(plan: Plan, confirm: Callable[[Plan], bool], plan_digest: str | None, what: str) -> None:
    if plan_digest is not None and plan_digest != plan.digest():
        raise ConfirmationRequired("the plan changed since it was confirmed; review the new plan and "
                                   "confirm again", plan)
    if plan.risky and plan_digest is None and not confirm(plan):
        raise ConfirmationRequired(f"this {what} needs confirmation: " + "; ".join(plan.risks), plan)


class Deployer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def deploy(self, tenant: str, actor: str, *, dry_run: bool = False, overrides: Mapping[str, str] | None = None,
               allow_downgrade: bool = False, confirm: Callable[[Plan], bool] = lambda plan: False,
               plan_digest: str | None = None, on_step: Step = lambda step, detail: None) -> DeployResult:
        def work(lease: Lease | None, steps: Step) -> DeployResult:
            return self._deploy(tenant, actor, dry_run, dict(overrides or {}), allow_downgrade, confirm,
                                plan_digest, steps, lease)

        return self._leased("deploy", validate_tenant(tenant), actor, work, on_step, leased=not dry_run)

    def rollback(self, tenant: str, actor: str, *, confirm: Callable[[Plan], bool] = lambda plan: False,
                 plan_digest: str | None = None, on_step: Step = lambda step, detail: None) -> DeployResult:
        """Back to the release before the one now running (rollbacks and releases rolled away from skipped)."""
        def work(lease: Lease | None, steps: Step) -> DeployResult:
            assert lease is not None
            back = rollback_plan(self.ctx, tenant)
            _confirmed(back.plan, confirm, plan_digest, "rollback")
            steps("planned", back.describe())
            _stop_point("applying")
            result = self.apply(tenant, actor, "rollback", back.plan, back.compose, back.pins, False, steps, lease)
            result.extra.update(rolled_back_to=back.target.id, rolled_back_from=back.running.id)
            result.message = f"{back.describe()}: {result.message}"
            return result

        return self._leased("rollback", validate_tenant(tenant), actor, work, on_step, leased=True)

    def _leased(self, command: str, tenant: str, actor: str, work: Callable[[Lease | None, Step], DeployResult],
                on_step: Step, leased: bool) -> DeployResult:
        """The lease (renewed while working), reconciliation of what an earlier process left, refusals audited."""
        store = self.ctx.store
        steps = BoundedSteps(on_step)
        lease: Lease | None = None
        started, outcome = time.monotonic(), "error"          # "error": a bug or a forced interrupt
        try:
            if leased:
                lease = store.lease(tenant, actor, ttl=self.ctx.settings.lease_ttl)
                reconcile(self.ctx, tenant)
            result = work(lease, steps)
            outcome = result.outcome
            return result
        except TagpinError as exc:
            # A plan that waits for a human is not a refusal; the audit trail says which it was.
            outcome = ("awaiting_confirmation" if isinstance(exc, ConfirmationRequired)
                       else "interrupted" if isinstance(exc, Interrupted) else "refused")
            store.audit(actor, command, tenant, outcome, {"error": str(exc), "kind": type(exc).__name__})
            raise
        finally:
            if lease is not None:
                lease.release()
            steps.close()                   # progress still queued goes out after the lease, in order
            metrics.DEPLOYS.labels(command=command, outcome=outcome).inc()
            metrics.DEPLOY_SECONDS.labels(command=command, outcome=outcome).observe(time.monotonic() - started)

    def _deploy(self, tenant: str, actor: str, dry_run: bool, overrides: dict[str, str], allow_downgrade: bool,
                confirm: Callable[[Plan], bool], plan_digest: str | None, on_step: Step,
                lease: Lease | None) -> DeployResult:
        ctx, store = self.ctx, self.ctx.store
        template = ctx.template()
        on_step("resolving", f"{len(template.services)} services")
        current = current_pins(ctx, tenant)
        new_tenant = store.tenant(tenant) is None
        notes: list[str] = []
        pins = targets(ctx, template, current, overrides, allow_downgrade, notes)
        plan = make_plan(tenant, new_tenant, template.services, current, pins)
        compose = render(template, tenant, pins)          # render validates what it wrote
        on_step("planned", "; ".join([*plan.risks, *notes]) or "no risks")
        if dry_run:
            store.audit(actor, "deploy --dry-run", tenant, "planned", {"plan": plan.as_dict(), "notes": notes})
            return DeployResult(tenant, "planned", plan, compose, message="; ".join(["dry run: nothing applied",
                                                                                   *notes]))
        assert lease is not None
        _confirmed(plan, confirm, plan_digest, "deploy")
        _stop_point("applying")
        result = self.apply(tenant, actor, "deploy", plan, compose, pins, new_tenant, on_step, lease)
        result.message = "; ".join([result.message, *notes])
        return result

    def apply(self, tenant: str, actor: str, command: str, plan: Plan, compose: str, pins: Mapping[str, Pin],
              new_tenant: bool, on_step: Step, lease: Lease) -> DeployResult:
        store = self.ctx.store
        lease.check("recording the deployment")
        references = {c.name: c.reference for c in plan.services}
        row = store.start_deployment(tenant=tenant, actor=actor, command=command, plan=json.dumps(plan.as_dict()),
                                     plan_digest=plan.digest(), references=json.dumps(references),
                                     compose=compose)
        assert row.id is not None
        lease.attach(row.id)
        if new_tenant:
            store.add_tenant(tenant, actor)
            store.audit(actor, "onboard", tenant, "created", deployment_id=row.id)
        try:
            result = self._apply(tenant, actor, command, plan, compose, pins, on_step, row.id, references, lease)
        except BaseException as exc:
            # Never leave a deployment "running" behind: a bug or a forced interrupt still ends it, audited.
            message = f"interrupted: {type(exc).__name__}: {exc}"
            store.update_deployment(row.id, outcome="failed", message=message)
            store.audit(actor, command, tenant, "failed", {"error": message}, deployment_id=row.id)
            raise
        if new_tenant and result.outcome in ("failed", "rolled_back"):
            result.message += "; " + undo_onboarding(self.ctx, tenant, actor, row.id)
        return result

    def _apply(self, tenant: str, actor: str, command: str, plan: Plan, compose: str, pins: Mapping[str, Pin],
               on_step: Step, deployment_id: int, references: Mapping[str, str], lease: Lease) -> DeployResult:
        ctx, store = self.ctx, self.ctx.store
        on_step("applying", f"deployment #{deployment_id}")
        try:
            lease.check("applying the stack")
            ctx.swarm.deploy(tenant, compose)
        except TagpinError as exc:
            store.update_deployment(deployment_id, outcome="failed", message=str(exc))
            store.audit(actor, command, tenant, "failed", {"error": str(exc)}, deployment_id=deployment_id)
            return DeployResult(tenant, "failed", plan, compose, deployment_id, str(exc))
        on_step("verifying", "waiting for every task to run its digest")
        wanted = {name: pin.digest for name, pin in pins.items()}
        timeout = ctx.settings.converge_timeout
        report = ctx.converger.wait(tenant, wanted, timeout, stop=stopping.requested)
        if report.outcome == "failed" and "within" in report.message and not lease.lost.is_set():
            late = [r.name for r in report.services if r.state != "converged"]
            on_step("rolling back", ", ".join(late))
            back = ctx.converger.roll_back(tenant, late, timeout)
            report = ConvergeReport(back.outcome, report.services, report.seconds + back.seconds,
                                    f"{report.message}; rollback: {back.message}")
        message = report.message
        if report.outcome == "interrupted":
            message += (f"; Swarm goes on with the update -- `tagpin status {tenant}` records the outcome once "
                        "it settles")
        store.update_deployment(deployment_id, outcome=report.outcome, message=message,
                                seconds=round(report.seconds, 2))
        detail = {"references": dict(references), "message": message, "seconds": round(report.seconds, 2)}
        store.audit(actor, command, tenant, report.outcome, detail, deployment_id=deployment_id)
        on_step("done", f"{report.outcome}: {message}")
        return DeployResult(tenant, report.outcome, plan, compose, deployment_id, message, report)
