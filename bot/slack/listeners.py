"""Slash commands: acknowledge at once (parse only), then do the work in a lazy listener and respond."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

from bot.errors import TagpinError
from bot.service.audit import recent_events
from bot.service.observe import Observer
from bot.slack import blocks
from bot.slack.commands import Invocation, help_text, parse
from bot.slack.deferred import acknowledge, deferred
from bot.slack.failures import translate
from bot.slack.listeners_deploy import deploy, rollback, rollout
from bot.slack.runtime import Runtime, user_of

COMMANDS = ("/deploy", "/status", "/drift", "/audit", "/rollback", "/rollout", "/tagpin")
Work = Callable[[Runtime, Invocation, dict[str, Any], Respond], None]


def _working(inv: Invocation) -> str:
    what = {"deploy": "Planning the deploy of", "status": "Checking", "rollback": "Rolling back",
            "audit": "Reading the audit trail of", "drift": "Scanning", "rollout": "Planning the rollout of"}[inv.name]
    if inv.name == "rollout":
        target = (", ".join(inv.services) or "every service") + " to " + (inv.options.get("tenants") or (
            f"the tenants labelled {inv.options['label']}" if "label" in inv.options else "every tenant"))
    else:
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


WORK: dict[str, Work] = {"status": status, "drift": drift, "audit": audit, "deploy": deploy, "rollback": rollback,
                         "rollout": rollout}


def _parsed(command: dict[str, Any]) -> Invocation | TagpinError:
    try:
        return parse(str(command.get("command", "")), str(command.get("text", "")))
    except TagpinError as exc:
        return exc


def _acknowledgement(command: dict[str, Any]) -> dict[str, Any]:
    """Parse only: a bad command is answered here, help too; the rest is told it is being worked on."""
    inv = _parsed(command)
    if isinstance(inv, TagpinError):
        return {"response_type": "ephemeral", **translate(inv)}
    if inv.name == "help":
        return {"response_type": "ephemeral", **blocks.text(help_text())}
    return {"response_type": "ephemeral", **blocks.text(_working(inv))}


def work(rt: Runtime, command: dict[str, Any], respond: Respond) -> None:
    inv = _parsed(command)
    if not isinstance(inv, TagpinError) and inv.name != "help":      # else the acknowledgement answered
        WORK[inv.name](rt, inv, command, respond)


def register(app: App, rt: Runtime) -> None:
    lazy = deferred(rt, work, lambda command: f"{command.get('command')} {command.get('text')}")
    for name in COMMANDS:
        app.command(name)(ack=acknowledge(_acknowledgement), lazy=[lazy])
