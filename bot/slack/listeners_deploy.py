"""Deploy, rollback and the Confirm/Cancel buttons: authorize, audit refusals, then hand over to DeployRun."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context.respond import Respond

from bot.errors import Refused
from bot.service.deploy import Deployer
from bot.service.trail import Thread
from bot.slack import blocks
from bot.slack.commands import Invocation
from bot.slack.confirm import Pending
from bot.slack.deploying import DeployRun
from bot.slack.failures import translate
from bot.slack.posting import safe_respond
from bot.slack.runtime import Runtime, user_of


def authorize(rt: Runtime, user: str, actor: str, tenant: str, channel: str, command: str, verb: str,
              thread: Thread | None = None) -> None:
    """Raise Refused (saying the user may not `verb`) after recording it: the database first, then Slack."""
    try:
        rt.authorizer.check(user, tenant, channel, verb)
    except Refused as exc:
        rt.ctx.store.audit(actor, command, tenant, "refused", {"error": str(exc), "kind": "Refused"})
        if thread is None:
            thread = rt.trail.open(actor, command, tenant, f"`/{command} {tenant}` by {actor}")
        rt.trail.step(thread, "refused", f"refused: {exc}")
        raise


def deploy(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    assert inv.tenant is not None
    user, actor = user_of(cmd)
    if inv.dry_run:
        # A dry run changes nothing, so everyone may look at a plan.
        result = Deployer(rt.ctx).deploy(inv.tenant, actor, dry_run=True, overrides=inv.overrides,
                                         allow_downgrade=inv.allow_downgrade)
        assert result.plan is not None
        respond(response_type="ephemeral", **blocks.plan(result.plan.as_dict(), notice="Dry run: nothing applied."))
        return
    authorize(rt, user, actor, inv.tenant, str(cmd.get("channel_id")), "deploy", "deploy")
    run = DeployRun(rt, user, actor, inv.tenant, str(cmd.get("channel_id")), respond, overrides=inv.overrides,
                    allow_downgrade=inv.allow_downgrade)
    run.open(f"`{cmd.get('command')} {cmd.get('text')}` by {actor}")
    run.deploy()


def rollback(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    assert inv.tenant is not None
    user, actor = user_of(cmd)
    authorize(rt, user, actor, inv.tenant, str(cmd.get("channel_id")), "rollback", "roll back")
    run = DeployRun(rt, user, actor, inv.tenant, str(cmd.get("channel_id")), respond, command="rollback")
    run.open(f"`{cmd.get('command')} {cmd.get('text')}` by {actor}")
    run.rollback()


def _take(rt: Runtime, body: dict[str, Any], respond: Respond) -> tuple[Pending, str] | None:
    user, actor = user_of(body)
    value = str(body["actions"][0].get("value", ""))
    try:
        pending = rt.confirmations.take(value, user)
    except Refused as exc:
        rt.ctx.store.audit(actor, "confirm", None, "refused", {"error": str(exc), "kind": "Refused"})
        safe_respond(respond, translate(exc), replace_original=False)
        return None
    return pending, actor


def register(app: App, rt: Runtime) -> None:
    def acknowledge(ack: Ack) -> None:
        rt.inflight.begin()
        ack()

    def confirmed(body: dict[str, Any], respond: Respond) -> None:
        try:
            taken = _take(rt, body, respond)
            if taken is None:
                return
            p, actor = taken
            thread = Thread(p.thread_id) if p.thread_id is not None else None
            verb = "roll back" if p.command == "rollback" else "deploy"
            authorize(rt, p.requester, actor, p.tenant, p.channel, p.command, verb, thread)
            doing = "rolling back" if p.command == "rollback" else "deploying"
            respond(replace_original=True, **blocks.text(f":white_check_mark: <@{p.requester}> confirmed plan "
                                                         f"{p.digest[:12]}; {doing} {p.tenant}…"))
            rt.trail.step(thread, "confirmed", f"confirmed by {actor}", plan_digest=p.digest)
            DeployRun(rt, p.requester, actor, p.tenant, p.channel, respond, command=p.command,
                      overrides=p.overrides, allow_downgrade=p.allow_downgrade, thread=thread,
                      progress_ts=p.progress_ts).go_on(p.digest)
        except Exception as exc:
            safe_respond(respond, translate(exc, "confirm"), replace_original=False)
        finally:
            rt.inflight.end()

    def cancelled(body: dict[str, Any], respond: Respond) -> None:
        try:
            taken = _take(rt, body, respond)
            if taken is None:
                return
            p, actor = taken
            rt.ctx.store.audit(actor, "deploy", p.tenant, "cancelled", {"plan_digest": p.digest})
            thread = Thread(p.thread_id) if p.thread_id is not None else None
            rt.trail.step(thread, "cancelled", f"cancelled by {actor}; nothing deployed")
            respond(replace_original=True, **blocks.text(f":no_entry_sign: Cancelled; {p.tenant} was not deployed."))
        except Exception as exc:
            safe_respond(respond, translate(exc, "cancel"), replace_original=False)
        finally:
            rt.inflight.end()

    app.action("tagpin_confirm")(ack=acknowledge, lazy=[confirmed])
    app.action("tagpin_cancel")(ack=acknowledge, lazy=[cancelled])
