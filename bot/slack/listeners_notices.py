"""The buttons on a drift notice: Deploy now (the /deploy path), Show plan (a dry run), Snooze 24 h."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

from bot.errors import UsageError
from bot.service.refusals import authorize
from bot.service.watching import snooze
from bot.slack import blocks, notice_blocks
from bot.slack.deferred import acknowledge, deferred
from bot.slack.deploying import show_dry_run, start_deploy
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
    start_deploy(rt, respond, user=user, actor=actor, channel=_channel(body), command="deploy", tenant=tenant,
                 said=f"Deploy now on drift notice #{notice} by {actor}")


def show_plan(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    _, tenant = _target(body)
    _, actor = user_of(body)
    show_dry_run(rt, respond, actor=actor, tenant=tenant, replace_original=False)


def snooze_notice(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    notice_id, tenant = _target(body)
    user, actor = user_of(body)
    authorize(rt.ctx, actor, "snooze", tenant,
              lambda: rt.authorizer.check(user, tenant, _channel(body), "snooze drift notices of"))
    notice = snooze(rt.ctx, notice_id, SNOOZE_HOURS, actor)
    if notice.ts:
        # The notice itself shows the snooze, for everyone in the channel: the watcher's own edit.
        SlackNotifier(rt.client, _channel(body)).update(notice)
    safe_respond(respond, blocks.text(f":zzz: Reminders for notice #{notice_id} paused until "
                                      f"{notice.snoozed_until:%Y-%m-%d %H:%M} UTC."),
                 replace_original=False)


def register(app: App, rt: Runtime) -> None:
    for action, handler, where in ((notice_blocks.DEPLOY_NOW, deploy_now, "deploy now"),
                                   (notice_blocks.SHOW_PLAN, show_plan, "show plan"),
                                   (notice_blocks.SNOOZE, snooze_notice, "snooze")):
        app.action(action)(ack=acknowledge(), lazy=[deferred(rt, handler, where,
                                                               replace_original=False)])
