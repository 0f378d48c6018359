"""Each CLI command: call the use case, return its JSON object and its text rendering."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.cli import text
from bot.cli.parser import confirm_on_tty
from bot.domain.plans import Plan
from bot.domain.references import parse_reference
from bot.domain.versions import Policy
from bot.errors import ConfirmationRequired, UsageError
from bot.service import fleet, freezing, stopping
from bot.service.audit import onboarded, recent_events
from bot.service.context import Context
from bot.service.deploy import Answer, Ask, Deployer, DeployRequest
from bot.service.observe import Observer
from bot.service.resolve import resolve
from bot.service.results import Command, Event, ignore
from bot.service.views import AuditJSON, TenantsJSON, WatchStoppedJSON

# (the command's JSON object, its text for a terminal, ok): a TypedDict result is a Mapping, not a dict.
Result = tuple[Mapping[str, Any], str, bool]


def do_resolve(ctx: Context, args: argparse.Namespace) -> Result:
    image = parse_reference(args.image)
    if image.tag or image.digest:
        raise UsageError(f"{args.image}: give the repository without a tag or digest; tagpin chooses the tag")
    policy = Policy(mode=args.mode, constraint=args.constraint, prerelease=args.prerelease, pattern=args.pattern)
    found = resolve(ctx.registry, image, policy, current=args.current, allow_downgrade=args.allow_downgrade,
                    ages=ctx.ages)
    data = found.as_dict()
    return data, text.resolve(data), True


def _asker(args: argparse.Namespace, verb: str) -> Ask:
    """A risky plan: `--yes`, or a yes on the terminal; anything else leaves it undeployed (the CLI parks nothing)."""
    def ask(plan: Plan) -> Answer:
        yes = bool(args.yes) or confirm_on_tty("Risky plan: " + "; ".join(plan.risks) + f". {verb}?")
        return "yes" if yes else "no"

    return ask


def _progress(event: Event) -> None:
    print(f"  {event.step}: {event.detail}", file=sys.stderr, flush=True)


def _with_poster(ctx: Context) -> Context:
    """With an audit channel and a bot token, a CLI deploy posts its own audit thread (only its own: the bot
    posts what others left); with a channel alone the rows wait in the outbox for the bot."""
    settings = ctx.settings
    if ctx.poster is not None or not (settings.audit_channel and settings.slack_bot_token):
        return ctx
    from bot.slack.app import client_from
    from bot.slack.posting import SlackPoster

    return replace(ctx, poster=SlackPoster(client_from(settings)))


def _deploying(ctx: Context, args: argparse.Namespace, command: Command, verb: str, dry_run: bool = False,
               overrides: Mapping[str, str] | None = None, allow_downgrade: bool = False,
               override_freeze: str | None = None) -> Result:
    """A deploy or rollback: SIGTERM/SIGINT stop it cleanly at a step boundary (recorded), never mid-write. On a
    terminal its steps are shown as they happen (stderr: stdout stays the one JSON object)."""
    actor = ctx.settings.actor
    extra = "".join(f" {name}={tag}" for name, tag in (overrides or {}).items())
    said = f"`tagpin {command} {args.tenant}{extra}{' --dry-run' if dry_run else ''}` by {actor}"
    req = DeployRequest(args.tenant, actor, command, said=said, overrides=dict(overrides or {}),
                        allow_downgrade=allow_downgrade, dry_run=dry_run, override_freeze=override_freeze)
    with stopping.on_signals():
        result = Deployer(_with_poster(ctx)).run(req, _progress if sys.stderr.isatty() else ignore, _asker(args, verb))
    if result.outcome == "awaiting_confirmation":
        raise ConfirmationRequired(f"{result.message} -- nothing was deployed; re-run with --yes to proceed",
                                   result.plan)
    data = result.as_dict()
    return data, text.deploy(data), result.ok


def do_deploy(ctx: Context, args: argparse.Namespace) -> Result:
    return _deploying(ctx, args, "deploy", "Deploy", dry_run=args.dry_run, overrides=dict(args.overrides),
                      allow_downgrade=args.allow_downgrade,
                      override_freeze=freezing.override_reason(args.override_freeze, args.reason))


def do_rollback(ctx: Context, args: argparse.Namespace) -> Result:
    return _deploying(ctx, args, "rollback", "Roll back")


def do_status(ctx: Context, args: argparse.Namespace) -> Result:
    data = Observer(ctx).status(args.tenant, ctx.settings.actor)
    return data, text.status(data), True


def do_drift(ctx: Context, args: argparse.Namespace) -> Result:
    data = Observer(ctx).drift(args.tenants, actor=ctx.settings.actor)
    ok = not (args.exit_code and data["findings"])
    return data, text.drift(data), ok


def do_audit(ctx: Context, args: argparse.Namespace) -> Result:
    data: AuditJSON = {"events": recent_events(ctx, args.tenant, args.limit)}
    return data, text.audit(data), True


def do_tenants(ctx: Context, args: argparse.Namespace) -> Result:
    if args.tenants_command == "label":
        labelled = fleet.label(ctx, args.tenant, args.labels, ctx.settings.actor)
        return labelled, text.labels(labelled), True
    data: TenantsJSON = {"tenants": onboarded(ctx)}
    return data, text.tenants(data), True


def do_hold(ctx: Context, args: argparse.Namespace) -> Result:
    data = fleet.hold(ctx, args.tenant, args.service, args.range, args.reason, ctx.settings.actor)
    return data, text.hold(data), True


def do_rollout(ctx: Context, args: argparse.Namespace) -> Result:
    from bot.service import waves
    from bot.service.rollout import DEFAULT_WAVES, Want, plan_rollout

    actor = ctx.settings.actor

    def said(result: Any) -> None:      # each tenant as it ends, on a terminal (as deploy shows its steps)
        if sys.stderr.isatty():
            print(f"wave {result.wave}: {result.tenant} {result.outcome}", file=sys.stderr, flush=True)

    which = [flag for flag in ("resume", "abandon") if getattr(args, flag) is not None]
    if which:
        planning = [name for name, given in (("SERVICE", args.services), ("--tenants", args.tenants != "all"),
                                             ("--label", args.label), ("--waves", args.waves != DEFAULT_WAVES),
                                             ("--dry-run", args.dry_run), ("--resume and --abandon", len(which) > 1),
                                             ("--override-freeze", args.abandon is not None and args.override_freeze))
                    if given]
        if planning:
            raise UsageError(f"--{which[0]} takes the rollout as it was planned: drop {', '.join(planning)}")
    if args.abandon is not None:
        data = waves.describe(ctx, waves.abandon(ctx, args.abandon, actor, args.reason or ""))
        return data, text.rollouts({"rollouts": [data]}), True
    if args.reason is not None and not args.override_freeze:
        raise UsageError("--reason goes with --abandon ID or --override-freeze")
    reason = freezing.override_reason(args.override_freeze, args.reason)
    ctx = replace(ctx, freeze_override=reason)          # each tenant's deploy carries the override
    if args.resume is not None:
        freezing.refuse_rollout(ctx, actor, reason)     # a global freeze holds a resumed rollout too
        _, lease = waves.take_over(ctx, args.resume, actor)
        with stopping.on_signals():     # SIGTERM/SIGINT: no tenant starts, those deploying finish, resumable
            done = waves.carry_out(ctx, args.resume, lease, actor, args.parallel, resume=True, confirmed=True,
                                   on_tenant=said)
        return done, text.rolled_out(done), done["outcome"] == "converged"
    fp = plan_rollout(ctx, Want.parse(args.services), args.tenants, args.label, args.waves)
    data = fp.as_dict()
    if args.dry_run:
        return data, text.rollout(data), True
    freezing.refuse_rollout(ctx, ctx.settings.actor, reason)
    if fp.risks and not args.yes and not confirm_on_tty(f"{text.rollout(data)}\nRoll out anyway?"):
        raise ConfirmationRequired(f"the fleet plan {fp.digest()[:12]} has {len(fp.risks)} risk(s): "
                                   f"{'; '.join(fp.risks)} -- nothing was deployed; re-run with --yes to proceed")
    with stopping.on_signals():
        done = waves.apply_rollout(ctx, fp, actor, args.parallel, said)
    return {**done, "plan": data}, text.rolled_out(done), done["outcome"] == "converged"


def do_rollouts(ctx: Context, args: argparse.Namespace) -> Result:
    from bot.service import waves

    data = waves.listing(ctx, args.rollout, args.limit)
    return data, text.rollouts(data), True
def do_freeze(ctx: Context, args: argparse.Namespace) -> Result:
    data = fleet.freeze(ctx, args.tenant, args.window, args.reason, ctx.settings.actor, args.name)
    return data, text.freeze(data), True


def do_unfreeze(ctx: Context, args: argparse.Namespace) -> Result:
    data = fleet.unfreeze(ctx, args.tenant, args.name, ctx.settings.actor)
    return data, text.unfreeze(data), True


def do_unhold(ctx: Context, args: argparse.Namespace) -> Result:
    data = fleet.unhold(ctx, args.tenant, args.service, ctx.settings.actor)
    return data, text.unhold(data), True


def do_watch(ctx: Context, args: argparse.Namespace) -> Result:
    from bot import watch
    from bot.slack.app import client_from

    if not ctx.settings.slack_bot_token:
        raise UsageError("set SLACK_BOT_TOKEN (and TAGPIN_SLACK_API_URL for a local stand-in) for the watcher")
    watcher = watch.make_watcher(ctx, client_from(ctx.settings))
    if not args.once:
        watch.run_forever(watcher, float(args.interval or ctx.settings.watch_interval))
        stopped: WatchStoppedJSON = {"stopped": True}
        return stopped, "watcher stopped", True
    report = watch.scan_alone(watcher)
    data = report.as_dict()
    return data, text.watch(data), not report.failed


def do_migrate(ctx: Context, args: argparse.Namespace) -> Result:
    """Upgrade the schema now, whatever TAGPIN_MIGRATE says: start-up left it to this command."""
    from bot.adapters.store import Store

    store = ctx.store if isinstance(ctx.store, Store) else Store(ctx.store.url)
    data = store.migrate().as_dict()
    return data, text.migration(data), True


COMMANDS = {"resolve": do_resolve, "deploy": do_deploy, "rollback": do_rollback, "status": do_status,
            "drift": do_drift, "audit": do_audit, "tenants": do_tenants, "watch": do_watch, "migrate": do_migrate,
            "hold": do_hold, "unhold": do_unhold, "rollout": do_rollout, "rollouts": do_rollouts,
            "freeze": do_freeze, "unfreeze": do_unfreeze}
