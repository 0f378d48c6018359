"""Deploy, rollback, rollout and the Confirm/Cancel buttons: thin adapters over the service's deploy conversation."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

from bot.service.deploy import Deployer
from bot.service.rollout import DEFAULT_WAVES
from bot.service.waves import RolloutRequest
from bot.slack.commands import Invocation
from bot.slack.deferred import acknowledge, deferred
from bot.slack.deploying import cancel_deploy, confirm_deploy, show_dry_run, start_deploy
from bot.slack.rolling import abandon_rollout, cancel_rollout, confirm_rollout, resume_rollout, start_rollout
from bot.slack.runtime import Runtime, user_of


def deploy(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    assert inv.tenant is not None
    user, actor = user_of(cmd)
    if inv.dry_run:
        show_dry_run(rt, respond, actor=actor, tenant=inv.tenant, overrides=inv.overrides,
                     allow_downgrade=inv.allow_downgrade)
        return
    start_deploy(rt, respond, user=user, actor=actor, channel=str(cmd.get("channel_id")), command="deploy",
                 tenant=inv.tenant, said=f"`{cmd.get('command')} {cmd.get('text')}` by {actor}",
                 overrides=inv.overrides, allow_downgrade=inv.allow_downgrade, override_freeze=inv.override_freeze)


def rollback(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    assert inv.tenant is not None
    user, actor = user_of(cmd)
    start_deploy(rt, respond, user=user, actor=actor, channel=str(cmd.get("channel_id")), command="rollback",
                 tenant=inv.tenant, said=f"`{cmd.get('command')} {cmd.get('text')}` by {actor}")


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value", ""))


def confirmed(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    """Confirm on a parked plan: a deploy's or a rollout's (the one button, taken once, by its requester)."""
    user, actor = user_of(body)
    p = Deployer(rt.ctx).take(_value(body), user, actor)
    if p.command == "rollout":
        confirm_rollout(rt, respond, p, actor)
    else:
        confirm_deploy(rt, respond, actor=actor, p=p)


def cancelled(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    user, actor = user_of(body)
    p = Deployer(rt.ctx).take(_value(body), user, actor)
    if p.command == "rollout":
        cancel_rollout(rt, respond, p, actor)
    else:
        cancel_deploy(rt, respond, actor=actor, p=p)


def rollout(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    user, actor = user_of(cmd)
    o = inv.options
    channel = str(cmd.get("channel_id"))
    if "resume" in o:
        resume_rollout(rt, respond, user=user, actor=actor, channel=channel, rollout_id=int(o["resume"]),
                       parallel=int(o.get("parallel", "1")))
        return
    if "abandon" in o:
        abandon_rollout(rt, respond, user=user, actor=actor, channel=channel, rollout_id=int(o["abandon"]),
                        reason=o["reason"])
        return
    req = RolloutRequest(inv.services, o.get("tenants", "all"), o.get("label"), o.get("waves", DEFAULT_WAVES),
                         int(o.get("parallel", "1")), inv.override_freeze)
    start_rollout(rt, respond, user=user, actor=actor, channel=channel, req=req, dry_run=inv.dry_run)


def register(app: App, rt: Runtime) -> None:
    for action, handler in (("tagpin_confirm", confirmed), ("tagpin_cancel", cancelled)):
        where = action.removeprefix("tagpin_")
        app.action(action)(ack=acknowledge(), lazy=[deferred(rt, handler, where,
                                                               replace_original=False)])
