"""The buttons on a drift notice: Deploy now (the /deploy path), Show plan (a dry run), Snooze 24 h."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context.respond import Respond

from bot.errors import UsageError
from bot.service.deploy import Deployer
from bot.service.watching import snooze
from bot.slack import blocks, notice_blocks
from bot.slack.deploying import DeployRun
from bot.slack.failures import translate
from bot.slack.listeners_deploy import authorize
from bot.slack.notifier import SlackNotifier
from bot.slack.posting import safe_respond
from bot.slack.runtime import Runtime, user_of

SNOOZE_HOURS = 24.0


def _target(body: dict[str, Any]) -> tuple[int, str]:
    """(notice id, tenant) from the button's value "ID:TENANT"."""
    raw = str(body["actions"][0].get("value", ""))
    notice, _, tenant = raw.partition(":")
    if not notice.isdigit() or not tenant:
        raise UsageError(f"this button carries no notice ({raw!r}); use /deploy instead")
    return int(notice), tenant


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id", ""))


def deploy_now(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    notice, tenant = _target(body)
    user, actor = user_of(body)
    authorize(rt, user, actor, tenant, _channel(body), "deploy", "deploy")
    run = DeployRun(rt, user, actor, tenant, _channel(body), respond)
    run.open(f"Deploy now on drift notice #{notice} by {actor}")
    run.deploy()


def show_plan(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    _, tenant = _target(body)
    _, actor = user_of(body)
    result = Deployer(rt.ctx).deploy(tenant, actor, dry_run=True)
    assert result.plan is not None
    safe_respond(respond, blocks.plan(result.plan.as_dict(), notice="Dry run: nothing applied."),
                 replace_original=False)


def snooze_notice(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    notice_id, tenant = _target(body)
    user, actor = user_of(body)
    authorize(rt, user, actor, tenant, _channel(body), "snooze", "snooze drift notices of")
    notice = snooze(rt.ctx, notice_id, SNOOZE_HOURS, actor)
    if notice.ts:
        # The notice itself shows the snooze, for everyone in the channel: the watcher's own edit.
        SlackNotifier(rt.client, _channel(body)).update(notice)
    safe_respond(respond, blocks.text(f":zzz: Reminders for notice #{notice_id} paused until "
                                      f"{notice.snoozed_until:%Y-%m-%d %H:%M} UTC."),
                 replace_original=False)


def register(app: App, rt: Runtime) -> None:
    def acknowledge(ack: Ack) -> None:
        rt.inflight.begin()
        ack()

    def lazy(handler: Any, where: str) -> Any:
        def run(body: dict[str, Any], respond: Respond) -> None:
            try:
                handler(rt, body, respond)
            except Exception as exc:
                safe_respond(respond, translate(exc, where), replace_original=False)
            finally:
                rt.inflight.end()
        return run

    app.action(notice_blocks.DEPLOY_NOW)(ack=acknowledge, lazy=[lazy(deploy_now, "deploy now")])
    app.action(notice_blocks.SHOW_PLAN)(ack=acknowledge, lazy=[lazy(show_plan, "show plan")])
    app.action(notice_blocks.SNOOZE)(ack=acknowledge, lazy=[lazy(snooze_notice, "snooze")])
