"""Each CLI command: call the use case, return its JSON object and its text rendering."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from bot.cli import text
from bot.cli.parser import confirm_on_tty
from bot.domain.plans import Plan
from bot.domain.references import parse_reference
from bot.domain.versions import Policy
from bot.errors import ConfirmationRequired, UsageError
from bot.service import stopping
from bot.service.context import Context
from bot.service.deploy import Deployer, DeployResult
from bot.service.observe import Observer
from bot.service.resolve import resolve
from bot.service.trail import recent_events

# (the command's JSON object, its text for a terminal, ok): a TypedDict result is a Mapping, not a dict.
Result = tuple[Mapping[str, Any], str, bool]


def do_resolve(ctx: Context, args: argparse.Namespace) -> Result:
    image = parse_reference(args.image)
    if image.tag or image.digest:
        raise UsageError(f"{args.image}: give the repository without a tag or digest; tagpin chooses the tag")
    policy = Policy(mode=args.mode, constraint=args.constraint, prerelease=args.prerelease, pattern=args.pattern)
    found = resolve(ctx.registry, image, policy, current=args.current, allow_downgrade=args.allow_downgrade)
    data = found.as_dict()
    return data, text.resolve(data), True


def _confirm(args: argparse.Namespace, verb: str) -> Callable[[Plan], bool]:
    def confirm(plan: Plan) -> bool:
        return bool(args.yes) or confirm_on_tty("Risky plan: " + "; ".join(plan.risks) + f". {verb}?")

    return confirm


def _deploying(action: Callable[[], DeployResult]) -> Result:
    """A deploy or rollback: SIGTERM/SIGINT stop it cleanly at a step boundary (recorded), never mid-write."""
    try:
        with stopping.on_signals():
            result = action()
    except ConfirmationRequired as exc:
        raise ConfirmationRequired(f"{exc} -- nothing was deployed; re-run with --yes to proceed", exc.plan) from exc
    data = result.as_dict()
    return data, text.deploy(data), result.ok


def do_deploy(ctx: Context, args: argparse.Namespace) -> Result:
    return _deploying(lambda: Deployer(ctx).deploy(
        args.tenant, ctx.settings.actor, dry_run=args.dry_run, overrides=dict(args.overrides),
        allow_downgrade=args.allow_downgrade, confirm=_confirm(args, "Deploy")))


def do_rollback(ctx: Context, args: argparse.Namespace) -> Result:
    return _deploying(lambda: Deployer(ctx).rollback(args.tenant, ctx.settings.actor,
                                                     confirm=_confirm(args, "Roll back")))


def do_status(ctx: Context, args: argparse.Namespace) -> Result:
    data = Observer(ctx).status(args.tenant, ctx.settings.actor)
    return data, text.status(data), True


def do_drift(ctx: Context, args: argparse.Namespace) -> Result:
    data = Observer(ctx).drift(args.tenants, actor=ctx.settings.actor)
    ok = not (args.exit_code and data["findings"])
    return data, text.drift(data), ok


def do_audit(ctx: Context, args: argparse.Namespace) -> Result:
    data = {"events": recent_events(ctx, args.tenant, args.limit)}
    return data, text.audit(data), True


def do_tenants(ctx: Context, args: argparse.Namespace) -> Result:
    data = {"tenants": [{"name": t.name, "created_at": t.created_at.isoformat(), "created_by": t.created_by}
                        for t in ctx.store.tenants()]}
    return data, text.tenants(data), True


def do_watch(ctx: Context, args: argparse.Namespace) -> Result:
    from bot import watch
    from bot.slack.app import web_client

    if not ctx.settings.slack_bot_token:
        raise UsageError("set SLACK_BOT_TOKEN (and TAGPIN_SLACK_API_URL for a local stand-in) for the watcher")
    watcher = watch.make_watcher(ctx, web_client(ctx.settings.slack_api_url, ctx.settings.slack_bot_token))
    if not args.once:
        watch.run_forever(watcher, float(args.interval or ctx.settings.watch_interval))
        return {"stopped": True}, "watcher stopped", True
    report = watcher.scan_once()
    data = report.as_dict()
    return data, text.watch(data), not report.failed


COMMANDS = {"resolve": do_resolve, "deploy": do_deploy, "rollback": do_rollback, "status": do_status,
            "drift": do_drift, "audit": do_audit, "tenants": do_tenants, "watch": do_watch}
