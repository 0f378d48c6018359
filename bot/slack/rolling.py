"""/rollout from Slack: the fleet plan (a risky one waits for its requester's Confirm, bound to the plan's digest),
then one message in the channel edited in place wave by wave while the service carries the rollout out; each
tenant's deploy writes its own thread in the audit channel, as any deploy does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from slack_bolt.context.respond import Respond

from bot.errors import Refused, TagpinError
from bot.service import freezing, waves
from bot.service.pending import Pending
from bot.service.rollout import FleetPlan
from bot.slack import blocks
from bot.slack.failures import translate
from bot.slack.posting import Progress, safe_respond
from bot.slack.rollout_blocks import board, fleet_plan
from bot.slack.runtime import Runtime

CHANGED = "The fleet plan changed since you saw it, so nothing was rolled out. This is the new plan:"
# The board is edited at most this often (seconds): a fleet of 100 ends tenants faster than Slack allows edits,
# and an edit waits for nobody -- the newest state goes out, the rollout never waits for Slack.
EDIT_EVERY = 1.0


class Board:
    """The rollout's one progress message: posted when it starts, then edited with the newest state of every wave
    (coalesced on a thread of its own), a last time when it ends. A failed edit is logged, never raised."""

    def __init__(self, rt: Runtime, channel: str, respond: Respond, title: str, waves: Sequence[Sequence[str]],
                 states: Mapping[str, tuple[str, str]] | None = None, every: float = EDIT_EVERY) -> None:
        self.title, self.every = title, every
        self.waves = [list(wave) for wave in waves]
        self.states: dict[str, tuple[str, str]] = dict(states or {})     # tenant -> (outcome, message)
        self.progress = Progress(rt.client, channel, respond, title)
        self._lock = threading.Lock()
        self._dirty, self._stop = threading.Event(), threading.Event()
        self._editor = threading.Thread(target=self._edit, name="tagpin-rollout-board", daemon=True)

    def _message(self, final: str | None = None) -> blocks.Message:
        with self._lock:
            return board(self.title, self.waves, dict(self.states), final)

    def start(self) -> None:
        self.progress.start(self._message())
        self._editor.start()

    def named(self, rollout_id: int) -> None:
        self.title = f"Rollout #{rollout_id}{self.title.removeprefix('Rollout')}"
        self._dirty.set()

    def tenant(self, tenant: str, outcome: str, message: str = "") -> None:
        with self._lock:
            self.states[tenant] = (outcome, message)
        self._dirty.set()

    def _edit(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._dirty.clear()
            self.progress.show(self._message())
            self._stop.wait(self.every)

    def finish(self, final: str) -> None:
        self._stop.set()
        self._dirty.set()
        self._editor.join(timeout=10)
        self.progress.show(self._message(final))


def final_line(done: dict[str, Any]) -> str:
    rollout = f"rollout #{done['rollout_id']}"
    if done["outcome"] == "converged":
        return f":white_check_mark: *converged*: {done['message']}"
    if done["outcome"] == "halted":
        untouched = (f"; not reached, untouched: {', '.join(f'`{t}`' for t in done['untouched'])}"
                     if done["untouched"] else "")
        return f":red_circle: *{done['message']}*{untouched}"
    return (f":double_vertical_bar: *interrupted*: {done['message']} (`tagpin rollout --resume "
            f"{done['rollout_id']}` continues {rollout})")


def _authorized(rt: Runtime, user: str, actor: str, channel: str, tenants: Iterable[str], digest: str,
                command: str = "rollout", verb: str = "roll out") -> None:
    """The requester may deploy every tenant the rollout moves, from this channel; else nothing moves (audited)."""
    try:
        for tenant in tenants:
            rt.authorizer.check(user, tenant, channel, verb)
    except Refused as exc:
        rt.ctx.store.audit(actor, command, None, "refused", {"error": str(exc), "kind": "Refused", "digest": digest})
        raise


def _planned(fp: FleetPlan) -> list[str]:
    return [step.tenant for wave in fp.waves for step in wave]


def _what(req: waves.RolloutRequest) -> str:
    return ", ".join(req.services) if req.services else "every service"


def _carry_out(rt: Runtime, respond: Respond, user: str, actor: str, channel: str, req: waves.RolloutRequest,
               fp: FleetPlan) -> None:
    run = Board(rt, channel, respond, f"Rollout of {_what(req)} by <@{user}>",
                [[step.tenant for step in wave] for wave in fp.waves])
    _show(run, respond, f"rollout of {_what(req)}", lambda: waves.apply_rollout(
        req.context(rt.ctx), fp, actor, req.parallel, on_tenant=lambda r: run.tenant(r.tenant, r.outcome, r.message),
        on_start=lambda step: run.tenant(step.tenant, "running"), on_begin=run.named))


def _show(run: Board, respond: Respond, what: str, carry: Callable[[], dict[str, Any]]) -> None:
    """The board posted, the rollout carried out while it is edited, and its last line (or why it stopped)."""
    run.start()
    try:
        done = carry()
    except Exception as exc:
        run.finish(f":red_circle: *refused*: {exc}" if isinstance(exc, TagpinError)
                   else ":red_circle: *failed* (internal error)")
        safe_respond(respond, translate(exc, what))
        return
    run.finish(final_line(done))


def resume_rollout(rt: Runtime, respond: Respond, *, user: str, actor: str, channel: str, rollout_id: int,
                   parallel: int) -> None:
    """/rollout --resume ID: an interrupted rollout carried on from what Swarm runs (as `tagpin rollout --resume`),
    by a requester who may deploy every tenant in it, on a board of its own."""
    record = waves.get(rt.ctx, rollout_id)
    _authorized(rt, user, actor, channel, [s.tenant for s in record.steps], record.digest, "rollout --resume",
                "resume a rollout of")
    freezing.refuse_rollout(rt.ctx, actor, None)
    record, lease = waves.take_over(rt.ctx, rollout_id, actor)
    by_wave: dict[int, list[str]] = {}
    for step in record.steps:
        by_wave.setdefault(step.wave, []).append(step.tenant)
    states = {s.tenant: (s.outcome or "converged", s.message or "") for s in record.steps if s.state == "done"}
    run = Board(rt, channel, respond, f"Rollout #{rollout_id}, resumed by <@{user}>",
                [by_wave[n] for n in sorted(by_wave)], states)
    _show(run, respond, f"rollout #{rollout_id}", lambda: waves.carry_out(
        rt.ctx, rollout_id, lease, actor, parallel, resume=True, confirmed=True,
        on_tenant=lambda r: run.tenant(r.tenant, r.outcome, r.message),
        on_start=lambda step: run.tenant(step.tenant, "running")))


def abandon_rollout(rt: Runtime, respond: Respond, *, user: str, actor: str, channel: str, rollout_id: int,
                    reason: str) -> None:
    """/rollout --abandon ID --reason TEXT: an interrupted rollout given up (its tenants stay as they are), said in
    the channel with who and why."""
    record = waves.get(rt.ctx, rollout_id)
    _authorized(rt, user, actor, channel, [s.tenant for s in record.steps], record.digest, "rollout --abandon",
                "abandon a rollout of")
    waves.abandon(rt.ctx, rollout_id, actor, reason)
    left = [s.tenant for s in record.steps if s.state != "done"]
    respond(response_type="in_channel", **blocks.text(
        f":wastebasket: <@{user}> abandoned rollout #{rollout_id}: {reason}. Tenants already done stay done; "
        + (f"not reached, left as they are: {', '.join(f'`{t}`' for t in left)}" if left else "none was left")))


def start_rollout(rt: Runtime, respond: Respond, *, user: str, actor: str, channel: str,
                  req: waves.RolloutRequest, dry_run: bool) -> None:
    """/rollout: the fleet plan; a dry run or a risky plan is shown to the requester (the risky one with Confirm),
    any other is carried out at once."""
    fp = req.plan(rt.ctx)
    if dry_run:
        safe_respond(respond, fleet_plan(fp.as_dict(), notice="Dry run: nothing applied."))
        return
    _authorized(rt, user, actor, channel, _planned(fp), fp.digest())
    freezing.refuse_rollout(rt.ctx, actor, req.override_freeze)   # a global freeze: refused whole unless overridden
    if fp.risks:
        p = waves.park(rt.ctx, fp, req, user, actor, channel)
        respond(response_type="ephemeral", **fleet_plan(fp.as_dict(), confirm_id=p.id))
        return
    _carry_out(rt, respond, user, actor, channel, req, fp)


def confirm_rollout(rt: Runtime, respond: Respond, p: Pending, actor: str) -> None:
    """Confirm on a parked fleet plan: planned again from what runs now, carried out only if it is the plan shown;
    a different plan is parked and shown again instead."""
    req = waves.parked(p)
    fp = req.plan(rt.ctx)
    _authorized(rt, p.requester, actor, p.channel, _planned(fp), fp.digest())
    freezing.refuse_rollout(rt.ctx, actor, req.override_freeze)   # a window that began since it was shown holds too
    if fp.digest() != p.digest:
        again = waves.park(rt.ctx, fp, req, p.requester, actor, p.channel) if fp.risks else None
        respond(replace_original=True, **fleet_plan(fp.as_dict(), confirm_id=again.id if again else None,
                                                    notice=CHANGED if fp.risks else
                                                    f"{CHANGED} (it has no risk now: send the command again to "
                                                    "roll it out)"))
        return
    rt.ctx.store.audit(actor, "rollout", None, "confirmed", {"digest": p.digest})
    respond(replace_original=True, **blocks.text(f":white_check_mark: <@{p.requester}> confirmed fleet plan "
                                                 f"{p.digest[:12]}; rolling out {_what(req)}…"))
    _carry_out(rt, respond, p.requester, actor, p.channel, req, fp)


def cancel_rollout(rt: Runtime, respond: Respond, p: Pending, actor: str) -> None:
    rt.ctx.store.audit(actor, "rollout", None, "cancelled", {"digest": p.digest})
    respond(replace_original=True, **blocks.text(":no_entry_sign: Cancelled; no tenant was touched."))
