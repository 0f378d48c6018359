"""The part of a deploy that changes things: record → apply the stack → verify every task → record the outcome."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.plans import Plan
from bot.domain.running import ConvergeReport
from bot.domain.stacks import Pin
from bot.errors import OutcomeUnrecorded, StoreError, TagpinError
from bot.service import stopping
from bot.service.context import Context
from bot.service.ports import Lease
from bot.service.progress import Say
from bot.service.results import Command, DeployJSON, Outcome
from bot.service.undo import undo_onboarding


@dataclass
class DeployOutcome:
    """What one deploy or rollback came to. `awaiting_confirmation` is a result: the plan waits for a human, and
    `confirm_id` (when set) is how a button continues it; without one, only a new command with --yes can."""

    tenant: str
    command: Command
    outcome: Outcome
    plan: Plan | None = None
    compose: str = ""
    deployment_id: int | None = None
    message: str = ""
    report: ConvergeReport | None = None
    rolled_back: tuple[int, int] | None = None        # (to, from) deployment ids of a rollback
    confirm_id: str | None = None
    replanned: bool = False              # the confirmed plan was no longer the plan: this is the new one
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in ("planned", "converged")

    def as_dict(self) -> DeployJSON:
        data: DeployJSON = {
            "tenant": self.tenant, "deployment_id": self.deployment_id, "outcome": self.outcome,
            "services": self.plan.as_dict()["services"] if self.plan is not None else [],
            "risks": list(self.plan.risks) if self.plan else [],
            "plan_digest": self.plan.digest() if self.plan else None, "compose": self.compose,
            "message": self.message,
            "verification": [{"name": r.name, "target": r.target, "running_digests": list(r.running_digests),
                              "running": r.running, "desired": r.desired, "state": r.state, "error": r.error}
                             for r in self.report.services] if self.report else [],
            "seconds": round(self.report.seconds, 2) if self.report else None}
        if self.rolled_back is not None:
            data["rolled_back_to"], data["rolled_back_from"] = self.rolled_back
        return data


def summary(data: DeployJSON) -> str:
    """The outcome in one line (the audit thread's last reply, the Slack progress message's end)."""
    icon = {"converged": ":large_green_circle:", "planned": ":memo:"}.get(data["outcome"], ":red_circle:")
    where = f" (deployment #{data['deployment_id']})" if data.get("deployment_id") else ""
    seconds = f" in {data['seconds']} s" if data.get("seconds") is not None else ""
    return f"{icon} *{data['outcome']}*{where}{seconds}" + (f": {data['message']}" if data.get("message") else "")


def unrecorded(tenant: str, deployment_id: int, exc: StoreError) -> str:
    """What a deploy says when the database failed under it: which deployment, why, and what settles it."""
    return (f"deployment #{deployment_id} of {tenant}: its outcome could not be recorded -- {exc}; Swarm keeps "
            f"what it was given: once the database is back, `tagpin status {tenant}` records the real outcome")


def apply(ctx: Context, tenant: str, actor: str, command: Command, plan: Plan, compose: str,
          pins: Mapping[str, Pin], new_tenant: bool, say: Say, lease: Lease) -> DeployOutcome:
    store = ctx.store
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
        result = _apply(ctx, tenant, actor, command, plan, compose, pins, say, row.id, references, lease)
    except StoreError as exc:
        # The database went away mid-deploy: writing "failed" would be neither true nor possible. The row stays
        # "running", and reconciling judges it from what Swarm runs once the database is back.
        raise OutcomeUnrecorded(unrecorded(tenant, row.id, exc), row.id) from exc
    except BaseException as exc:
        # Never leave a deployment "running" behind: a bug or a forced interrupt still ends it, audited.
        message = f"interrupted: {type(exc).__name__}: {exc}"
        store.update_deployment(row.id, outcome="failed", message=message)
        store.audit(actor, command, tenant, "failed", {"error": message}, deployment_id=row.id)
        raise
    if new_tenant and result.outcome in ("failed", "rolled_back"):
        result.message += "; " + undo_onboarding(ctx, tenant, actor, row.id)
    return result


def _apply(ctx: Context, tenant: str, actor: str, command: Command, plan: Plan, compose: str,
           pins: Mapping[str, Pin], say: Say, deployment_id: int, references: Mapping[str, str],
           lease: Lease) -> DeployOutcome:
    store = ctx.store
    say("applying", f"deployment #{deployment_id}")
    try:
        lease.check("applying the stack")
        repinned = ctx.swarm.deploy(tenant, compose, references)
    except TagpinError as exc:
        store.update_deployment(deployment_id, outcome="failed", message=str(exc))
        store.audit(actor, command, tenant, "failed", {"error": str(exc)}, deployment_id=deployment_id)
        return DeployOutcome(tenant, command, "failed", plan, compose, deployment_id, str(exc))
    if repinned:
        say("applying", "; ".join(repinned))
    say("verifying", "waiting for every task to run its digest")
    wanted = {name: pin.digest for name, pin in pins.items()}
    timeout = ctx.settings.converge_timeout
    report = ctx.converger.wait(tenant, wanted, timeout, stop=stopping.requested)
    if report.timed_out and not lease.lost.is_set():
        late = [r.name for r in report.services if r.state != "converged"]
        say("rolling back", ", ".join(late))
        back = ctx.converger.roll_back(tenant, late, timeout)
        report = ConvergeReport(back.outcome, report.services, report.seconds + back.seconds,
                                f"{report.message}; rollback: {back.message}")
    message = "; ".join([report.message, *repinned])
    if report.outcome == "interrupted":
        message += (f"; Swarm goes on with the update -- `tagpin status {tenant}` records the outcome once "
                    "it settles")
    store.update_deployment(deployment_id, outcome=report.outcome, message=message,
                            seconds=round(report.seconds, 2))
    detail = {"references": dict(references), "message": message, "seconds": round(report.seconds, 2)}
    store.audit(actor, command, tenant, report.outcome, detail, deployment_id=deployment_id)
    say("done", f"{report.outcome}: {message}")
    return DeployOutcome(tenant, command, report.outcome, plan, compose, deployment_id, message, report)
