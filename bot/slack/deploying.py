"""Every deploy from Slack -- /deploy, /rollback, Confirm, Deploy now -- through one door: the service's deploy
conversation, shown in one progress message updated in place and, for a risky plan, a Confirm button."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from slack_bolt.context.respond import Respond

from bot.domain.plans import Plan
from bot.errors import TagpinError
from bot.service.applying import DeployOutcome, summary
from bot.service.deploy import Answer, Deployer, DeployRequest
from bot.service.pending import Pending
from bot.service.results import Command, Event
from bot.slack import blocks
from bot.slack.failures import translate
from bot.slack.posting import Progress, safe_respond
from bot.slack.runtime import Runtime

VERB: dict[Command, str] = {"deploy": "deploy", "rollback": "roll back"}
# As long as a confirmation id: a plan's message is laid out with it to learn whether the button fits.
PROBE_ID = "x" * 16
CHANGED = "The plan changed since you saw it, so nothing was deployed. This is the new plan:"


@dataclass
class SlackDeploy:
    """One deploy's Slack side: the progress message, the Confirm button, the outcome or the error."""

    rt: Runtime
    respond: Respond
    user: str
    channel: str
    command: Command
    tenant: str
    options: dict[str, Any] = field(default_factory=dict)      # how an error answers a click (a new message)
    progress: Progress = field(init=False)

    def __post_init__(self) -> None:
        title = f"{self.command.capitalize()} of {self.tenant} by <@{self.user}>"
        self.progress = Progress(self.rt.client, self.channel, self.respond, title)

    def listen(self, event: Event) -> None:
        if event.step != "done":            # the outcome line that follows says it, with the deployment id
            self.progress.step(event.step, event.detail)

    def ask(self, plan: Plan) -> Answer:
        """In Slack a risky plan waits for a button -- offered only when every risk fits above it."""
        return "later" if blocks.offers_confirm(blocks.plan(plan.as_dict(), confirm_id=PROBE_ID)) else "no"

    def finish(self, action: Callable[[], DeployOutcome]) -> None:
        try:
            outcome = action()
        except Exception as exc:
            expected = isinstance(exc, TagpinError)
            self.progress.finish(f":red_circle: *refused*: {exc}" if expected
                                 else ":red_circle: *failed* (internal error)")
            safe_respond(self.respond, translate(exc, f"{self.command} {self.tenant}"), **self.options)
            return
        if outcome.outcome != "awaiting_confirmation" or outcome.plan is None:
            self.progress.finish(summary(outcome.as_dict()))
            return
        plan = outcome.plan
        self.respond(response_type="ephemeral", **blocks.plan(plan.as_dict(), confirm_id=outcome.confirm_id or "",
                                                              notice=CHANGED if outcome.replanned else "",
                                                              notes=outcome.notes))
        if outcome.confirm_id is not None:
            self.progress.finish(f":raised_hand: waiting for <@{self.user}> to confirm: " + "; ".join(plan.risks))
        else:
            self.progress.finish(f":no_entry_sign: not confirmable in Slack ({len(plan.risks)} risks do not fit a "
                                 f"message): nothing deployed; narrow the plan or use "
                                 f"`tagpin {self.command} {self.tenant} --yes`")


def start_deploy(rt: Runtime, respond: Respond, *, user: str, actor: str, channel: str, command: Command,
                 tenant: str, said: str, overrides: Mapping[str, str] | None = None,
                 allow_downgrade: bool = False, override_freeze: str | None = None) -> None:
    """/deploy, /rollback and Deploy now: authorized (a refusal is recorded by the service), then the progress
    message, then the service's deploy conversation."""
    deployer = Deployer(rt.ctx)
    req = DeployRequest(tenant, actor, command, said, dict(overrides or {}), allow_downgrade, requester=user,
                        channel=channel, override_freeze=override_freeze)
    deployer.authorize(req, lambda: rt.authorizer.check(user, tenant, channel, VERB[command]))
    run = SlackDeploy(rt, respond, user, channel, command, tenant)
    run.progress.start()
    run.finish(lambda: deployer.run(replace(req, progress_ts=run.progress.ts), run.listen, run.ask))


def confirm_deploy(rt: Runtime, respond: Respond, *, actor: str, p: Pending) -> None:
    """The Confirm button: the parked plan, applied as shown (the service makes it again only if it must)."""
    deployer = Deployer(rt.ctx)
    command: Command = "rollback" if p.command == "rollback" else "deploy"

    def check() -> None:
        rt.authorizer.check(p.requester, p.tenant, p.channel, VERB[command])
        doing = "rolling back" if command == "rollback" else "deploying"
        respond(replace_original=True, **blocks.text(f":white_check_mark: <@{p.requester}> confirmed plan "
                                                     f"{p.digest[:12]}; {doing} {p.tenant}…"))

    run = SlackDeploy(rt, respond, p.requester, p.channel, command, p.tenant, {"replace_original": False})
    run.progress.ts = p.progress_ts
    run.finish(lambda: deployer.confirm(p, actor, check, run.listen, run.ask))


def cancel_deploy(rt: Runtime, respond: Respond, *, actor: str, p: Pending) -> None:
    Deployer(rt.ctx).cancelled(p, actor)
    respond(replace_original=True, **blocks.text(f":no_entry_sign: Cancelled; {p.tenant} was not deployed."))


def show_dry_run(rt: Runtime, respond: Respond, *, actor: str, tenant: str, overrides: Mapping[str, str] | None = None,
                 allow_downgrade: bool = False, **options: Any) -> None:
    """A plan without a deploy (a dry run changes nothing, so everyone may look at one)."""
    outcome = Deployer(rt.ctx).run(DeployRequest(tenant, actor, overrides=dict(overrides or {}),
                                                 allow_downgrade=allow_downgrade, dry_run=True))
    assert outcome.plan is not None
    safe_respond(respond, blocks.plan(outcome.plan.as_dict(), notice="Dry run: nothing applied.", notes=outcome.notes),
                 **options)
