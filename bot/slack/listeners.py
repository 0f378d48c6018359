"""Slash commands: acknowledge at once (parse only), then do the work in a lazy listener and respond."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context.respond import Respond

from bot.errors import TagpinError
from bot.service.observe import Observer
from bot.service.trail import recent_events
from bot.slack import blocks
from bot.slack.commands import Invocation, help_text, parse
from bot.slack.failures import translate
from bot.slack.listeners_deploy import deploy, rollback
from bot.slack.posting import safe_respond
from bot.slack.runtime import Runtime, user_of

COMMANDS = ("/deploy", "/status", "/drift", "/audit", "/rollback", "/tagpin")
Work = Callable[[Runtime, Invocation, dict[str, Any], Respond], None]


def _working(inv: Invocation) -> str:
    what = {"deploy": "Planning the deploy of", "status": "Checking", "rollback": "Rolling back",
            "audit": "Reading the audit trail of", "drift": "Scanning"}[inv.name]
    target = inv.tenant or (", ".join(inv.tenants) if inv.tenants else "every tenant")
    return f":hourglass_flowing_sand: {what} {target}…" + (" (dry run)" if inv.dry_run else "")


def status(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    assert inv.tenant is not None
    respond(response_type="ephemeral", **blocks.status(Observer(rt.ctx).status(inv.tenant, user_of(cmd)[1])))


def drift(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    data = Observer(rt.ctx).drift(inv.tenants, source="slack", actor=user_of(cmd)[1])
    respond(response_type="ephemeral", **blocks.drift(data))


def audit(rt: Runtime, inv: Invocation, cmd: dict[str, Any], respond: Respond) -> None:
    events = recent_events(rt.ctx, inv.tenant, inv.limit)
    respond(response_type="ephemeral", **blocks.audit(events, inv.tenant))


WORK: dict[str, Work] = {"status": status, "drift": drift, "audit": audit, "deploy": deploy, "rollback": rollback}


def _parsed(command: dict[str, Any]) -> Invocation | TagpinError:
    try:
        return parse(str(command.get("command", "")), str(command.get("text", "")))
    except TagpinError as exc:
        return exc


def register(app: App, rt: Runtime) -> None:
    def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
        """Parse only: Slack gives 3 seconds and the ack must never wait on Docker, the registry or the Web API."""
        inv = _parsed(command)
        if isinstance(inv, TagpinError):
            ack(response_type="ephemeral", **translate(inv))
        elif inv.name == "help":
            ack(response_type="ephemeral", **blocks.text(help_text()))
        else:
            rt.inflight.begin()
            ack(response_type="ephemeral", **blocks.text(_working(inv)))

    def work(command: dict[str, Any], respond: Respond) -> None:
        inv = _parsed(command)
        if isinstance(inv, TagpinError) or inv.name == "help":
            return                       # the acknowledgement already answered
        try:
            WORK[inv.name](rt, inv, command, respond)
        except Exception as exc:
            safe_respond(respond, translate(exc, f"{command.get('command')} {command.get('text')}"))
        finally:
            rt.inflight.end()

    for name in COMMANDS:
        app.command(name)(ack=acknowledge, lazy=[work])
