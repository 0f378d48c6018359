"""The deploy conversation, the same for Slack, the CLI and the shell: plan → (a human's confirmation, as a result,
never an exception) → apply → verify → record, under a lease, told to whoever listens and to the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.domain.plans import Plan
from bot.domain.tenants import validate_tenant
from bot.errors import Interrupted, Refused
from bot.service import freezing, stopping
from bot.service.applying import DeployOutcome, apply
from bot.service.context import Context
from bot.service.pending import Pending
from bot.service.planning import Made, make, replay
from bot.service.ports import Lease
from bot.service.progress import Say
from bot.service.refusals import Check, authorize
from bot.service.results import Command, Listener, ignore
from bot.service.telling import Telling
from bot.service.trail import Thread, Trail

# What a front end answers when a plan is risky: go ahead, park it for a button, or leave it (nothing deployed).
Answer = Literal["yes", "later", "no"]
Ask = Callable[[Plan], Answer]


def never(plan: Plan) -> Answer:
    """The front end that cannot ask anybody: a risky plan is not deployed."""
    return "no"


@dataclass(frozen=True)
class DeployRequest:
    tenant: str
    actor: str                                  # who, for the audit trail: "U123 (@alice)", "alice (cli)"
    command: Command = "deploy"
    said: str = ""                              # what they typed: the first line of the audit thread
    overrides: Mapping[str, str] = field(default_factory=dict)
    allow_downgrade: bool = False
    dry_run: bool = False
    requester: str = ""                         # who may confirm a parked plan (a Slack user id)
    channel: str = ""
    progress_ts: str | None = None              # the front end's progress message, kept with a parked plan
    pinned: Mapping[str, str] = field(default_factory=dict)   # service -> the digest its tag must still name
    override_freeze: str | None = None          # --override-freeze --reason R: R (a deploy inside a window goes on)


def _stop_point(before: str) -> None:
    """Between steps: a stop request (SIGTERM/SIGINT) ends the work here, before anything else is changed."""
    by = stopping.requested()
    if by is not None:
        raise Interrupted(f"interrupted by {by} before {before}; nothing more was changed")


class Deployer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.trail = Trail(ctx)

    # -- the front ends' calls ---------------------------------------------------------------------------------

    def authorize(self, req: DeployRequest, check: Check, thread: Thread | None = None) -> None:
        """The front end's permission check; a refusal is recorded (the database, then the audit thread), raised."""
        authorize(self.ctx, req.actor, req.command, validate_tenant(req.tenant), check, thread=thread,
                  said=_said(req), trail=self.trail)

    def run(self, req: DeployRequest, listen: Listener = ignore, ask: Ask = never) -> DeployOutcome:
        req = replace(req, tenant=validate_tenant(req.tenant))
        frozen = self._frozen(req, None)
        thread = None if req.dry_run else self.trail.open(req.actor, req.command, req.tenant, _said(req))

        def work(lease: Lease | None, say: Say) -> DeployOutcome:
            made = make(self.ctx, req.tenant, req.command, req.overrides, req.allow_downgrade, say)
            _still_pinned(req, made)
            made.notes.extend(frozen)
            if req.dry_run:
                self.ctx.store.audit(req.actor, "deploy --dry-run", req.tenant, "planned",
                                     {"plan": made.plan.as_dict(), "notes": made.notes})
                return DeployOutcome(req.tenant, req.command, "planned", made.plan, made.compose, notes=made.notes,
                                     message="; ".join(["dry run: nothing applied", *made.notes]))
            assert lease is not None
            return self._go(req, made, ask, say, lease, thread, confirmed=None)

        return self._telling(req).run(thread, listen, work, leased=not req.dry_run)

    def take(self, confirm_id: str, user: str, actor: str) -> Pending:
        """The parked plan a button names, taken once; the wrong user's click is refused and recorded."""
        try:
            return self.ctx.pending.take(confirm_id, user)
        except Refused as exc:
            self.ctx.store.audit(actor, "confirm", None, "refused", {"error": str(exc), "kind": "Refused"})
            raise

    def confirm(self, p: Pending, actor: str, check: Check, listen: Listener = ignore,
                ask: Ask = never) -> DeployOutcome:
        """Apply a parked plan as it was shown -- no registry request -- unless what it was made of changed: then
        the plan is made again, and a different plan is parked again (shown again) instead of deployed."""
        req = DeployRequest(p.tenant, actor, "rollback" if p.command == "rollback" else "deploy",
                            overrides=p.overrides, allow_downgrade=p.allow_downgrade, requester=p.requester,
                            channel=p.channel, progress_ts=p.progress_ts)
        thread = Thread(p.thread_id) if p.thread_id is not None else None
        self.authorize(req, check, thread)
        frozen = self._frozen(req, thread)           # a window that began since the plan was parked holds too
        self.trail.step(thread, "confirmed", f"confirmed by {actor}", plan_digest=p.digest)

        def work(lease: Lease | None, say: Say) -> DeployOutcome:
            assert lease is not None
            made = replay(self.ctx, p, say)
            if made is None or made.plan.digest() != p.digest:
                made = make(self.ctx, req.tenant, req.command, req.overrides, req.allow_downgrade, say)
                made.notes.extend(frozen)
                if made.plan.digest() != p.digest:
                    return replace(self._park(req, made, thread, later=ask(made.plan) == "later"), replanned=True)
            made.notes.extend(n for n in frozen if n not in made.notes)
            return self._go(req, made, ask, say, lease, thread, confirmed=p.digest)

        return self._telling(req).run(thread, listen, work, leased=True)

    def cancelled(self, p: Pending, actor: str) -> None:
        """A parked plan (taken) its requester cancelled: recorded, nothing deployed."""
        self.ctx.store.audit(actor, p.command, p.tenant, "cancelled", {"plan_digest": p.digest})
        thread = Thread(p.thread_id) if p.thread_id is not None else None
        self.trail.step(thread, "cancelled", f"cancelled by {actor}; nothing deployed")

    # -- for scripts, tests and benches: one call, a yes/no confirmation, (step, detail) progress ------------------

    def deploy(self, tenant: str, actor: str, *, dry_run: bool = False, overrides: Mapping[str, str] | None = None,
               allow_downgrade: bool = False, confirm: Callable[[Plan], bool] = lambda plan: False,
               on_step: Callable[[str, str], None] | None = None,
               pinned: Mapping[str, str] | None = None, override_freeze: str | None = None) -> DeployOutcome:
        req = DeployRequest(tenant, actor, overrides=dict(overrides or {}), allow_downgrade=allow_downgrade,
                            dry_run=dry_run, pinned=dict(pinned or {}), override_freeze=override_freeze)
        return self.run(req, _steps(on_step), lambda plan: "yes" if confirm(plan) else "no")

    def rollback(self, tenant: str, actor: str, *, confirm: Callable[[Plan], bool] = lambda plan: False,
                 on_step: Callable[[str, str], None] | None = None) -> DeployOutcome:
        """Back to the release before the one now running (rollbacks and releases rolled away from skipped)."""
        return self.run(DeployRequest(tenant, actor, "rollback"), _steps(on_step),
                        lambda plan: "yes" if confirm(plan) else "no")

    # -- the conversation --------------------------------------------------------------------------------------

    def _frozen(self, req: DeployRequest, thread: Thread | None) -> list[str]:
        """Inside a freeze window a deploy is refused (recorded) before anything is planned or applied, unless
        overridden (recorded); a dry run and a rollback (how an incident is fixed) go on. The plan's notes."""
        frozen = freezing.active_for(self.ctx, req.tenant)
        if not frozen:
            return []
        if req.dry_run:
            return [f"inside {freezing.says(frozen)}: a deploy now is refused"]
        if req.command == "rollback":
            return [f"rolled back inside {freezing.says(frozen)} (rollbacks are allowed in a freeze)"]
        reason = req.override_freeze or self.ctx.freeze_override
        if reason is None:
            refused = freezing.refusal(req.tenant, frozen, f"tagpin deploy {req.tenant}")

            def check() -> None:
                raise refused

            authorize(self.ctx, req.actor, req.command, req.tenant, check, thread=thread, said=_said(req),
                      trail=self.trail)
        return [freezing.overridden(self.ctx, req.actor, req.command, req.tenant, frozen, str(reason))]

    def _telling(self, req: DeployRequest) -> Telling:
        return Telling(self.ctx, self.trail, req.tenant, req.actor, req.command)

    def _go(self, req: DeployRequest, made: Made, ask: Ask, say: Say, lease: Lease, thread: Thread | None,
            confirmed: str | None) -> DeployOutcome:
        plan = made.plan
        if plan.risky and confirmed != plan.digest():
            answer = ask(plan)
            if answer != "yes":
                return self._park(req, made, thread, later=answer == "later")
        _stop_point("applying")
        result = apply(self.ctx, req.tenant, req.actor, req.command, plan, made.compose, made.pins, made.new_tenant,
                       say, lease)
        result.notes = made.notes
        if made.back is not None:
            assert made.back.target.id is not None and made.back.running.id is not None
            result.rolled_back = (made.back.target.id, made.back.running.id)
            result.message = "; ".join([f"{made.back.describe()}: {result.message}", *made.notes])
        else:
            result.message = "; ".join([result.message, *made.notes])
        return result

    def _park(self, req: DeployRequest, made: Made, thread: Thread | None, later: bool) -> DeployOutcome:
        """A risky plan waits for a human: recorded as such; parked for a button when the front end offers one."""
        plan = made.plan
        words = f"this {req.command} needs confirmation: " + "; ".join(plan.risks or ["the plan changed"])
        self.ctx.store.audit(req.actor, req.command, req.tenant, "awaiting_confirmation",
                             {"error": words, "kind": "ConfirmationRequired", "plan_digest": plan.digest()})
        confirm_id = None
        if later:
            confirm_id = self.ctx.pending.add(
                requester=req.requester, actor=req.actor, tenant=req.tenant, digest=plan.digest(),
                channel=req.channel, overrides=req.overrides, allow_downgrade=req.allow_downgrade,
                thread_id=thread.parent_id if thread else None, progress_ts=req.progress_ts, command=req.command,
                pins=made.pins, new_tenant=made.new_tenant, template=made.template, notes=made.notes).id
        return DeployOutcome(req.tenant, req.command, "awaiting_confirmation", plan, made.compose, message=words,
                             confirm_id=confirm_id, notes=made.notes)


def _still_pinned(req: DeployRequest, made: Made) -> None:
    """A deploy of digests chosen earlier (a rollout's tenant) refuses a tag that has since moved in the registry:
    what it deploys is exactly what was planned and confirmed, or nothing."""
    moved = [f"{name}:{made.pins[name].tag} now names {made.pins[name].digest[:19]}…, not the planned "
             f"{digest[:19]}…" for name, digest in sorted(req.pinned.items())
             if name in made.pins and made.pins[name].digest != digest]
    if moved:
        raise Refused(f"{req.tenant}: {'; '.join(moved)} (a tag moved in the registry); nothing deployed")


def _said(req: DeployRequest) -> str:
    return req.said or f"`{req.command} {req.tenant}` by {req.actor}"


def _steps(on_step: Callable[[str, str], None] | None) -> Listener:
    if on_step is None:
        return ignore
    step = on_step
    return lambda event: step(event.step, event.detail)
