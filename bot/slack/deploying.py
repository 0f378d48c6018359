"""One deploy or rollback from Slack: lock → plan → (confirm) → apply → verify, shown in one progress message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt.context.respond import Respond

from bot.domain.plans import Plan
from bot.errors import ConfirmationRequired, TagpinError
from bot.service.deploy import Deployer, DeployResult
from bot.service.trail import Thread
from bot.slack import blocks
from bot.slack.failures import translate
from bot.slack.posting import Progress, safe_respond
from bot.slack.runtime import Runtime


@dataclass
class DeployRun:
    rt: Runtime
    user: str
    actor: str
    tenant: str
    channel: str
    respond: Respond
    command: str = "deploy"
    overrides: dict[str, str] = field(default_factory=dict)
    allow_downgrade: bool = False
    thread: Thread | None = None
    progress_ts: str | None = None
    _progress: Progress | None = None

    def open(self, text: str) -> None:
        """The audit thread's parent message, unless a confirmation continues an existing thread."""
        if self.thread is None:
            self.thread = self.rt.trail.open(self.actor, self.command, self.tenant, text)

    def step(self, step: str, detail: str) -> None:
        """Deployer's on_step: the progress message and the audit thread follow every step."""
        if step == "done":
            return                  # the outcome line that follows says it, with the deployment id
        if self._progress is None:
            title = f"{self.command.capitalize()} of {self.tenant} by <@{self.user}>"
            self._progress = Progress(self.rt.client, self.channel, self.respond, title)
            if self.progress_ts is None:
                self._progress.start()
            else:
                self._progress.ts = self.progress_ts
        self._progress.step(step, detail)
        self.rt.trail.step(self.thread, step, f"{step}: {detail}")

    def deploy(self, plan_digest: str | None = None) -> None:
        # No confirm callback: in Slack a risky plan is confirmed with a button, never implicitly.
        self._run(lambda: Deployer(self.rt.ctx).deploy(
            self.tenant, self.actor, overrides=self.overrides, allow_downgrade=self.allow_downgrade,
            plan_digest=plan_digest, on_step=self.step), plan_digest)

    def rollback(self, plan_digest: str | None = None) -> None:
        # A rollback that moves a service up is confirmed with a button too.
        self._run(lambda: Deployer(self.rt.ctx).rollback(self.tenant, self.actor, plan_digest=plan_digest,
                                                         on_step=self.step), plan_digest)

    def go_on(self, plan_digest: str) -> None:
        """After a confirmation: the same command, bound to the confirmed plan."""
        (self.rollback if self.command == "rollback" else self.deploy)(plan_digest)

    def _run(self, action: Callable[[], DeployResult], plan_digest: str | None) -> None:
        try:
            result = action()
        except ConfirmationRequired as exc:
            if exc.plan is None:
                safe_respond(self.respond, translate(exc, f"{self.command} {self.tenant}"))
            elif plan_digest is None:
                self._ask(exc.plan, "")
            else:           # the confirmed plan is no longer the plan: refuse, and ask about the new one
                self.rt.trail.step(self.thread, "refused", f"refused: {exc}")
                self._ask(exc.plan, "The plan changed since you saw it, so nothing was deployed. This is the new "
                                    "plan:")
            return
        except Exception as exc:
            message = translate(exc, f"{self.command} {self.tenant}")
            expected = isinstance(exc, TagpinError)
            self._finish(f":red_circle: *refused*: {exc}" if expected
                         else ":red_circle: *failed* (internal error)", "refused" if expected else "failed",
                         message["text"])
            safe_respond(self.respond, message)
            return
        data = result.as_dict()
        self._finish(blocks.outcome_line(data), result.outcome, blocks.outcome_line(data),
                     deployment_id=result.deployment_id)

    def _ask(self, plan: Plan, notice: str) -> None:
        """A risky plan: ephemeral Confirm/Cancel bound to this plan's digest; the deploy waits for it."""
        pending = self.rt.confirmations.add(
            requester=self.user, actor=self.actor, tenant=self.tenant, digest=plan.digest(), channel=self.channel,
            overrides=self.overrides, allow_downgrade=self.allow_downgrade, thread_id=self.thread.parent_id
            if self.thread else None, progress_ts=self._progress.ts if self._progress else None,
            command=self.command)
        message = blocks.plan(plan.as_dict(), confirm_id=pending.id, notice=notice)
        self.respond(response_type="ephemeral", **message)
        if not blocks.offers_confirm(message):
            # Its risks do not fit a Slack message, so no button was offered: nothing waits for a click.
            self.rt.confirmations.take(pending.id, self.user)
            words = (f"not confirmable in Slack ({len(plan.risks)} risks do not fit a message): nothing deployed; "
                     f"narrow the plan or use `tagpin {self.command} {self.tenant} --yes`")
            if self._progress is not None:
                self._progress.finish(f":no_entry_sign: {words}")
            self.rt.trail.step(self.thread, "refused", words, plan_digest=plan.digest())
            return
        if self._progress is not None:
            self._progress.finish(f":raised_hand: waiting for <@{self.user}> to confirm: " + "; ".join(plan.risks))
        self.rt.trail.step(self.thread, "awaiting_confirmation", "needs confirmation: " + "; ".join(plan.risks),
                           plan_digest=plan.digest())

    def _finish(self, line: str, outcome: str, trail_text: str, deployment_id: int | None = None) -> None:
        if self._progress is not None:
            self._progress.finish(line)
        self.rt.trail.step(self.thread, outcome, trail_text, deployment_id=deployment_id)
