"""A fleet rollout carried out, durably: the rollout and each tenant's step are rows in the store before anything
moves, one rollout per service set at a time (a lease in the store), the waves in order with a halt at the first
tenant that does not converge -- and a rollout whose process died is resumed from what Swarm runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.domain.rollouts import ENDED, RolloutRecord, StepRecord
from bot.errors import Interrupted, LeaseLost, LockHeld, NotFound, Refused, TagpinError, UsageError
from bot.service import stopping
from bot.service.context import Context
from bot.service.deploy import Deployer
from bot.service.pending import Pending
from bot.service.ports import Lease
from bot.service.reconcile import reconcile
from bot.service.resolve import Registry
from bot.service.rollout import DEFAULT_WAVES, FleetPlan, Want, plan_rollout

GUARD = "~rollout"                      # held for the moment a rollout is started or taken over, never longer
FLEET = "~fleet"                        # what a rollout parked for a Confirm click is kept under, for a tenant


@dataclass(frozen=True)
class RolloutRequest:
    """What a front end asked for; a parked rollout keeps it, to plan again at the click and compare digests."""

    services: tuple[str, ...] = ()
    tenants: str = "all"
    label: str | None = None
    waves: str = DEFAULT_WAVES
    parallel: int = 1
    override_freeze: str | None = None      # --override-freeze --reason R: R (frozen tenants are then moved too)

    def context(self, ctx: Context) -> Context:
        """The context its plan and its deploys run in: carrying the freeze override, when there is one."""
        return replace(ctx, freeze_override=self.override_freeze) if self.override_freeze else ctx

    def plan(self, ctx: Context) -> FleetPlan:
        return plan_rollout(self.context(ctx), Want.parse(self.services), self.tenants, self.label, self.waves)


def park(ctx: Context, fp: FleetPlan, req: RolloutRequest, requester: str, actor: str, channel: str) -> Pending:
    """A risky fleet plan waits for its requester's click, bound to its digest (audited)."""
    pending = ctx.pending.add(requester=requester, actor=actor, tenant=FLEET, digest=fp.digest(), channel=channel,
                              overrides={}, allow_downgrade=False, command="rollout",
                              fleet={**asdict(req), "services": list(req.services)})
    ctx.store.audit(actor, "rollout", None, "awaiting_confirmation",
                    {"error": "this rollout needs confirmation: " + "; ".join(fp.risks), "kind": "ConfirmationRequired",
                     "digest": fp.digest()})
    return pending


def parked(p: Pending) -> RolloutRequest:
    fleet = dict(p.fleet)
    return RolloutRequest(**{**fleet, "services": tuple(fleet.get("services", ()))})


def lease_key(rollout_id: int) -> str:
    """The lease a running rollout's process renews (tenant_locks; no tenant name starts with "~")."""
    return f"~rollout#{rollout_id}"


def _services(record: RolloutRecord) -> str:
    return ", ".join(record.services) if record.services is not None else "every service"


def shown_status(ctx: Context, record: RolloutRecord) -> str:
    """A running rollout whose lease nobody renews any more was interrupted: its process died or was stopped."""
    if record.status != "running":
        return record.status
    return "running" if ctx.store.live_lock(lease_key(record.id)) is not None else "interrupted"


def _stamp(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"


def _guarded(ctx: Context, actor: str, then: Callable[[], int], mine: tuple[str, ...] | None,
             resuming: int | None = None) -> tuple[int, Lease]:
    """Check that no other rollout of an overlapping service set is running (or interrupted, waiting to be
    resumed) and take this one's lease, all under the guard: two processes starting at once take turns."""
    guard = ctx.store.acquire(GUARD, actor, ttl=30)
    try:
        for other in ctx.tables.rollouts.recent(status="running"):
            if other.id == resuming or not other.overlaps(mine):
                continue
            where = f"rollout #{other.id} of {_services(other)} (by {other.actor}, since {_stamp(other.started_at)})"
            if shown_status(ctx, other) == "running":
                raise LockHeld(f"{where} is running: one rollout per service set at a time; tagpin rollouts "
                               "shows how far it is")
            raise Refused(f"{where} was interrupted: continue it with tagpin rollout --resume {other.id}, or give "
                          f"it up with tagpin rollout --abandon {other.id} --reason …")
        rollout_id = then()
        try:
            lease = ctx.store.lease(lease_key(rollout_id), actor, ttl=ctx.settings.lease_ttl)
        except LockHeld:
            raise LockHeld(f"rollout #{rollout_id} is being run by another process; tagpin rollouts shows how far "
                           "it is") from None
        return rollout_id, lease
    finally:
        ctx.store.release(GUARD, guard)


def begin(ctx: Context, fp: FleetPlan, actor: str) -> tuple[int, Lease]:
    """The rollout and its steps (every tenant of every wave, waiting) in the store, and its lease."""
    services = tuple(sorted(fp.want.services)) or None
    steps = [StepRecord(step.tenant, number, dict(step.pins), step.plan.digest())
             for number, wave in enumerate(fp.waves, 1) for step in wave if step.plan is not None]
    rollouts = ctx.tables.rollouts
    return _guarded(ctx, actor, lambda: rollouts.create(services, fp.want.services, fp.wave_spec, fp.digest(),
                                                        actor, steps), services)


def take_over(ctx: Context, rollout_id: int, actor: str) -> tuple[RolloutRecord, Lease]:
    """An interrupted rollout, to be resumed by this process: refused when it ended or is running elsewhere."""
    record = get(ctx, rollout_id)
    if record.status in ENDED:
        raise Refused(f"rollout #{rollout_id} {record.status} at {_stamp(record.finished_at)}"
                      + (f" ({record.message})" if record.message else "") + ": nothing to resume; plan a new one "
                      "with tagpin rollout --dry-run")
    _, lease = _guarded(ctx, actor, lambda: rollout_id, record.services, resuming=rollout_id)
    return get(ctx, rollout_id), lease


def get(ctx: Context, rollout_id: int) -> RolloutRecord:
    record = ctx.tables.rollouts.get(rollout_id)
    if record is None:
        raise NotFound(f"no rollout #{rollout_id}: tagpin rollouts lists them")
    return record


def abandon(ctx: Context, rollout_id: int, actor: str, reason: str) -> RolloutRecord:
    """Give up an interrupted rollout: its tenants stay as they are; a new rollout of its services may start."""
    if not reason.strip():
        raise UsageError("--abandon needs --reason: whoever finds the rollout later reads it")
    record, lease = take_over(ctx, rollout_id, actor)
    try:
        message = f"abandoned by {actor}: {reason.strip()}"
        ctx.tables.rollouts.finish(rollout_id, "abandoned", message)
        ctx.store.audit(actor, "rollout --abandon", None, "abandoned",
                        {"rollout_id": rollout_id, "reason": reason.strip(), "counts": record.counts()})
    finally:
        lease.release()
    return get(ctx, rollout_id)


@dataclass
class TenantResult:
    tenant: str
    wave: int
    outcome: str                     # converged | rolled_back | failed | refused | … (the deploy's), or "error"
    message: str = ""
    deployment_id: int | None = None
    started: float = 0.0             # seconds since the epoch
    finished: float = 0.0
    deployed: bool = True            # False: found on the target when resumed, verified, not deployed again

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "wave": self.wave, "outcome": self.outcome, "message": self.message,
                "deployment_id": self.deployment_id, "deployed": self.deployed, "started_at": _iso(self.started),
                "finished_at": _iso(self.finished)}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


class _Run:
    """One process's turn at a rollout: starts tenants until the rollout ends, a tenant fails, a stop is asked
    for (SIGTERM/SIGINT) or the lease is lost -- then no tenant starts, those deploying finish."""

    def __init__(self, ctx: Context, rollout_id: int, lease: Lease, actor: str,
                 on_tenant: Callable[[TenantResult], None], on_start: Callable[[StepRecord], None]) -> None:
        self.ctx, self.rollout_id, self.lease, self.actor, self.on_tenant = ctx, rollout_id, lease, actor, on_tenant
        self.on_start = on_start
        self.failed = threading.Event()
        self.stopped: str | None = None          # why no more tenants start, other than a failure

    def may_start(self, tenant: str) -> bool:
        if self.failed.is_set() or self.stopped:
            return False
        by = stopping.requested()
        if by is not None:
            self.stopped = f"stopped by {by}"
            return False
        try:
            self.lease.check(f"starting {tenant}")
        except LeaseLost:
            self.stopped = "its lease was lost: another process took the rollout over"
            return False
        return True

    def record(self, result: TenantResult) -> TenantResult:
        if result.outcome != "converged":
            self.failed.set()
        self.ctx.tables.rollouts.step_done(self.rollout_id, result.tenant, result.outcome, result.message,
                                           result.deployment_id)
        self.on_tenant(result)
        return result

    def deploy(self, step: StepRecord, confirmed: bool) -> TenantResult | None:
        if not self.may_start(step.tenant):
            return None
        self.ctx.tables.rollouts.step_started(self.rollout_id, step.tenant)
        self.on_start(step)
        started = time.time()
        try:
            done = Deployer(self.ctx).deploy(
                step.tenant, self.actor, overrides={n: p.tag for n, p in step.pins.items()},
                pinned={n: p.digest for n, p in step.pins.items()},
                confirm=lambda plan: confirmed or plan.digest() == step.plan_digest)
        except Interrupted as exc:
            result = TenantResult(step.tenant, step.wave, "interrupted", str(exc), None, started, time.time())
        except TagpinError as exc:
            result = TenantResult(step.tenant, step.wave, "error", str(exc), None, started, time.time())
        else:
            result = TenantResult(step.tenant, step.wave, done.outcome, done.message, done.deployment_id, started,
                                  time.time())
        if result.outcome == "interrupted":
            # A stop request (SIGTERM/SIGINT) stopped this deploy at its next step, as it stops any deploy: not a
            # failure of the release. The step stays running, so --resume judges it from what Swarm runs.
            self.stopped = self.stopped or f"stopped by {stopping.requested() or 'a stop request'}"
            self.on_tenant(result)
            return result
        return self.record(result)


def _on_target(ctx: Context, run: _Run, steps: Sequence[StepRecord]) -> list[TenantResult]:
    """Resuming: the steps whose tenant Swarm already runs at the planned digests are recorded converged, not
    deployed again -- every task on them, measured. That is a tenant the dead process was deploying when it died
    (its lease is first given the time to expire, then Swarm's own rolling update the converge timeout to end; its
    deployment row is reconciled), or one moved to the target meanwhile. One read of the stacks for them all."""
    deadline = time.monotonic() + ctx.settings.lease_ttl + 2
    for step in steps:
        while step.state == "running" and ctx.store.live_lock(step.tenant) is not None \
                and time.monotonic() < deadline:
            time.sleep(0.25)
    stacks = ctx.swarm.stacks([s.tenant for s in steps])
    out = []
    for step in steps:
        targets = {name: pin.digest for name, pin in step.pins.items()}
        stack = stacks.get(step.tenant, {})
        if not targets or any((svc := stack.get(n)) is None or svc.spec is None or svc.spec.digest != d
                              for n, d in targets.items()):
            continue                                  # not (all) applied: it is deployed
        states = {r.state for r in ctx.converger.judge(step.tenant, targets, stack)}
        if states != {"converged"} and step.state == "running":     # Swarm still rolls what the dead process applied
            states = {r.state for r in ctx.converger.wait(step.tenant, targets, ctx.settings.converge_timeout,
                                                          stop=stopping.requested).services}
        if states != {"converged"}:
            continue                                  # deployed again: verified, or rolled back, as any deploy
        reconcile(ctx, step.tenant)                   # the dead process's deployment row, judged from Swarm
        latest = ctx.store.latest_deployment(step.tenant)
        mine = latest if latest is not None and latest.outcome == "converged" and step.state == "running" else None
        now = time.time()
        said = (f"deployment #{mine.id} finished after its process died; verified when resumed: every task runs "
                "its planned digest" if mine is not None else
                "found on the target when resumed: every task runs its planned digest (verified, not deployed "
                "again)")
        out.append(run.record(TenantResult(step.tenant, step.wave, "converged", said,
                                           mine.id if mine is not None else None, now, now, deployed=False)))
    return out


def carry_out(ctx: Context, rollout_id: int, lease: Lease, actor: str, parallel: int = 1, resume: bool = False,
              skipped: Sequence[dict[str, Any]] = (), confirmed: bool = False,
              on_tenant: Callable[[TenantResult], None] = lambda r: None,
              on_start: Callable[[StepRecord], None] = lambda s: None,
              registry: Registry | None = None) -> dict[str, Any]:
    """The rollout's waves in order, `parallel` tenants at a time, each tenant one deploy of exactly its planned
    pins (one that does not converge is rolled back, as any deploy is). The first wave with a tenant that did not
    converge is the last: no tenant starts after it. Every step is written as it starts and ends; the lease is
    released at the end (a rollout that stopped early stays resumable)."""
    if registry is not None:        # the plan's memo: each digest it looked up serves every tenant's deploy
        converger = ctx.converger
        ctx = replace(ctx, registry=registry, converger_factory=lambda: converger)
    run = _Run(ctx, rollout_id, lease, actor, on_tenant, on_start)
    try:
        record = get(ctx, rollout_id)
        results: list[TenantResult] = []
        halted: int | None = None
        earlier = [s for s in record.steps if s.state == "done" and s.outcome != "converged"]
        if earlier:          # it had already failed when its process died: it halts there, as it would have
            halted = min(s.wave for s in earlier)
            run.failed.set()
        waves = sorted({s.wave for s in record.steps})
        for number in waves:
            if run.failed.is_set() or run.stopped:
                break
            todo = [s for s in record.steps if s.wave == number and s.state != "done"]
            if resume and todo:
                verified = _on_target(ctx, run, todo)
                results.extend(verified)
                todo = [s for s in todo if s.tenant not in {r.tenant for r in verified}]
            if todo:     # the wave's waits read their stacks together: O(1) Engine calls a poll round
                with run.ctx.converger.sharing([s.tenant for s in todo]), \
                        ThreadPoolExecutor(max_workers=max(1, min(parallel, len(todo)))) as pool:
                    done = [r for r in pool.map(lambda s: run.deploy(s, confirmed), todo) if r is not None]
                results.extend(done)
            if run.failed.is_set():
                halted = number
        after = get(ctx, rollout_id)
        untouched = [s.tenant for s in after.steps if s.state == "waiting"]
        if halted is not None:
            outcome = "halted"
            failed = [s for s in after.steps if s.state == "done" and s.outcome != "converged"]
            message = f"halted at wave {halted}: " + "; ".join(f"{s.tenant} {s.outcome}" for s in failed)
            ctx.tables.rollouts.finish(rollout_id, "halted", message, halted)
        elif run.stopped:
            outcome = "interrupted"
            stopped = [s.tenant for s in after.steps if s.state == "running"]
            message = (f"{run.stopped}; {len(untouched)} tenant(s) not started"
                       + (f", {', '.join(stopped)} stopped mid-deploy" if stopped else "")
                       + f": tagpin rollout --resume {rollout_id}")
        else:
            outcome, message = "converged", f"{len(after.steps)} tenant(s) on the target"
            ctx.tables.rollouts.finish(rollout_id, "converged", message)
        ctx.store.audit(actor, "rollout --resume" if resume else "rollout", None, outcome,
                        {"rollout_id": rollout_id, "digest": record.digest, "counts": after.counts(),
                         "failed": [r.tenant for r in results if r.outcome != "converged"], "halted_at_wave": halted,
                         "message": message})
    finally:
        lease.release()
    return {"rollout_id": rollout_id, "digest": record.digest, "outcome": outcome, "message": message,
            "halted_at_wave": halted, "resumed": resume, "results": [r.as_dict() for r in results],
            "untouched": untouched, "skipped": list(skipped), "counts": after.counts()}


def apply_rollout(ctx: Context, fp: FleetPlan, actor: str, parallel: int = 1,
                  on_tenant: Callable[[TenantResult], None] = lambda r: None,
                  on_start: Callable[[StepRecord], None] = lambda s: None,
                  on_begin: Callable[[int], None] = lambda rollout_id: None) -> dict[str, Any]:
    """Start the fleet plan as a new rollout and carry it out (a confirmed plan: its risky tenants are deployed when
    their plan is the one shown). on_begin hears the rollout's id, on_start each tenant as it starts, on_tenant
    each as it ends."""
    rollout_id, lease = begin(ctx, fp, actor)
    ctx.store.audit(actor, "rollout", None, "started", {"rollout_id": rollout_id, "digest": fp.digest(),
                                                        "waves": len(fp.waves), "plan": fp.as_dict()})
    on_begin(rollout_id)
    return carry_out(ctx, rollout_id, lease, actor, parallel, skipped=[s.as_dict() for s in fp.skipped],
                     on_tenant=on_tenant, on_start=on_start, registry=fp.registry)


def _step_dict(step: StepRecord) -> dict[str, Any]:
    return {"tenant": step.tenant, "wave": step.wave, "state": step.state, "outcome": step.outcome,
            "message": step.message, "deployment_id": step.deployment_id,
            "pins": {name: f"{pin.tag}@{pin.digest}" for name, pin in sorted(step.pins.items())},
            "started_at": step.started_at.isoformat() if step.started_at else None,
            "finished_at": step.finished_at.isoformat() if step.finished_at else None}


def describe(ctx: Context, record: RolloutRecord, steps: bool = False) -> dict[str, Any]:
    """A rollout as `tagpin rollouts` shows it: interrupted when running with no live lease; the wave it is at."""
    waiting = [s.wave for s in record.steps if s.state != "done"]
    out: dict[str, Any] = {
        "id": record.id, "status": shown_status(ctx, record), "services": list(record.services or []) or "all",
        "want": dict(record.want), "waves": record.wave_spec, "digest": record.digest, "actor": record.actor,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "halted_at_wave": record.halted_at_wave, "message": record.message, "counts": record.counts(),
        "wave": min(waiting) if waiting and record.status == "running" else None,
        "wave_count": max((s.wave for s in record.steps), default=0)}
    if steps:
        out["steps"] = [_step_dict(s) for s in record.steps]
    return out


def listing(ctx: Context, rollout_id: int | None = None, limit: int = 20) -> dict[str, Any]:
    """The newest rollouts, or one with its steps."""
    if rollout_id is not None:
        return {"rollouts": [describe(ctx, get(ctx, rollout_id), steps=True)]}
    return {"rollouts": [describe(ctx, r) for r in ctx.tables.rollouts.recent(limit)]}
