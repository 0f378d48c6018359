"""The `tagpin` command line: argparse subcommands, each printing a table or, with --json, one JSON object."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.errors import UsageError

Handler = Callable[[argparse.Namespace], tuple[dict[str, Any], str, bool]]   # (json, text, ok)


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so errors follow the one-line contract."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")


def _set(value: str) -> tuple[str, str]:
    service, sep, tag = value.partition("=")
    if not sep or not service or not tag:
        raise argparse.ArgumentTypeError(f"expected SERVICE=TAG, got {value!r}")
    return service, tag


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return number


def _override(p: Parser, also: str = "") -> None:
    p.add_argument("--override-freeze", action="store_true",
                   help="go ahead inside a freeze window (needs --reason; audited)")
    p.add_argument("--reason", help="why the freeze is overridden (with --override-freeze)" + (f"; {also}"
                                                                                             if also else ""))


def build_parser() -> Parser:
    parser = Parser(prog="tagpin", description="Deploy tenant stacks pinned to digests; watch for drift.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help_text: str) -> Parser:
        p: Parser = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
        return p

    p = command("resolve", "pick the tag and digest a policy allows for one repository")
    p.add_argument("image", help="repository, e.g. 127.0.0.1:5000/acme/frontend (no tag)")
    p.add_argument("--constraint", help='npm-style range, e.g. ">=1.2 <2" or "^1.4"')
    p.add_argument("--prerelease", action="store_true", help="allow prerelease versions")
    p.add_argument("--mode", choices=["semver", "two-part", "pattern"], default="semver")
    p.add_argument("--pattern", help="regex with named groups version, variant, rev (mode pattern)")
    p.add_argument("--current", help="the running tag: no downgrade below it, same variant")
    p.add_argument("--allow-downgrade", action="store_true", help="allow a version below --current")

    p = command("deploy", "plan, render, apply and verify a tenant's stack")
    p.add_argument("tenant")
    p.add_argument("--dry-run", action="store_true", help="plan and render only; apply nothing")
    p.add_argument("--set", dest="overrides", action="append", type=_set, default=[], metavar="SERVICE=TAG",
                   help="deploy this exact tag for one service (repeatable)")
    p.add_argument("--allow-downgrade", action="store_true")
    p.add_argument("--yes", action="store_true", help="confirm a risky plan (new tenant, downgrade, major jump)")
    _override(p)

    p = command("status", "what runs versus what should, for one tenant")
    p.add_argument("tenant")
    p = command("drift", "scan tenants for drift")
    p.add_argument("tenants", nargs="*", metavar="TENANT")
    p.add_argument("--exit-code", action="store_true", help="exit 3 when there are findings")
    p = command("audit", "the audit trail, newest first")
    p.add_argument("tenant", nargs="?")
    p.add_argument("--limit", type=_positive, default=20)
    p = command("rollback", "back to the converged release before the one running (its exact rendered file)")
    p.add_argument("tenant")
    p.add_argument("--yes", action="store_true", help="confirm a rollback that moves a service up a version")
    p = command("tenants", "onboarded tenants, their labels and holds")
    labels = p.add_subparsers(dest="tenants_command", parser_class=Parser)
    lp = labels.add_parser("label", help="set (KEY=VALUE) or remove (KEY-) a tenant's labels, e.g. canary=true",
                           description="set (KEY=VALUE) or remove (KEY-) a tenant's labels, e.g. canary=true")
    lp.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                    help="print exactly one JSON object on stdout")
    lp.add_argument("tenant")
    lp.add_argument("labels", nargs="+", metavar="KEY=VALUE|KEY-")
    p = command("hold", "keep one service of a tenant within a range (deploys, rollouts and drift honour it)")
    p.add_argument("tenant")
    p.add_argument("service")
    p.add_argument("range", help='npm-style range, e.g. "<2.0.0" or "~1.4"')
    p.add_argument("--reason", required=True, help="why: whoever meets the hold later reads it")
    p = command("rollout", "one release for many tenants in waves, the canary first; halts at the first failure")
    p.add_argument("services", nargs="*", metavar="SERVICE[@VERSION]",
                   help="the services to move (default: every one, to what its policy allows)")
    p.add_argument("--tenants", default="all", help="all (default) or T1,T2,…")
    p.add_argument("--label", metavar="KEY=VALUE", help="only the tenants with this label")
    p.add_argument("--waves", default="1,10%,100%", help="cumulative counts or percentages (default 1,10%%,100%%)")
    p.add_argument("--parallel", type=_positive, default=1, help="tenants deployed at once within a wave (default 1)")
    p.add_argument("--dry-run", action="store_true", help="the fleet plan only: waves, changes, risks, who is skipped")
    p.add_argument("--yes", action="store_true", help="confirm a risky fleet plan")
    p.add_argument("--resume", type=_positive, metavar="ID",
                   help="continue an interrupted rollout from what Swarm runs (tagpin rollouts lists them)")
    p.add_argument("--abandon", type=_positive, metavar="ID", help="give up an interrupted rollout (with --reason)")
    _override(p, also="why a rollout is abandoned (--abandon): whoever finds it later reads it")
    p = command("rollouts", "fleet rollouts, newest first: running, interrupted (resumable), converged, halted")
    p.add_argument("rollout", nargs="?", type=_positive, metavar="ID", help="one rollout, with each tenant's step")
    p.add_argument("--limit", type=_positive, default=20)
    p = command("freeze", "refuse deploys of a tenant inside a window (rollbacks still run)")
    p.add_argument("tenant")
    p.add_argument("window", help="START/END, START/DURATION (ISO 8601 with a zone) or cron(M H DOM MON DOW)/DURATION "
                                  "(UTC), e.g. 2026-12-24T00:00Z/P3D or 'cron(0 18 * * FRI)/PT62H'")
    p.add_argument("--reason", required=True, help="why: whoever is refused by it reads it")
    p.add_argument("--name", help="the freeze's name (default freeze-N); an existing name is replaced")
    p = command("unfreeze", "lift a tenant's freeze by name, or every freeze of it")
    p.add_argument("tenant")
    p.add_argument("name", nargs="?")
    p = command("unhold", "lift a tenant's hold on one service")
    p.add_argument("tenant")
    p.add_argument("service")
    p = sub.add_parser("shell", help="local chat: type /deploy acme as in Slack")
    p.add_argument("--user", default="ULOCAL", help="the Slack user id you play (default ULOCAL)")
    p.add_argument("--name", default="you", help="the user name shown and audited (default you)")
    p = command("watch", "the drift watcher: scan every interval and post notices to TAGPIN_DRIFT_CHANNEL")
    p.add_argument("--once", action="store_true", help="one scan, print what was found and said, exit")
    p.add_argument("--interval", type=_positive, help="seconds between scans (default TAGPIN_WATCH_INTERVAL or 300)")
    command("migrate", "upgrade the database schema to this tagpin's revision (works with TAGPIN_MIGRATE=never)")
    p = sub.add_parser("bot", help="the Slack app: Socket Mode if SLACK_APP_TOKEN is set, else HTTP on TAGPIN_BIND")
    p.add_argument("--role", choices=("all", "http", "jobs"), default="all",
                   help="HTTP only: all (default) runs both as child processes; http acknowledges (gunicorn) and "
                        "stores the work; jobs runs the stored work")
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    for number, arg in enumerate(argv, 1):
        try:    # Python decodes argv with surrogateescape: bytes that are not UTF-8 would reach the store and crash
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"argument {number} is not valid UTF-8: {arg!a}") from None
    return build_parser().parse_args(list(argv))


def confirm_on_tty(question: str) -> bool:
    """Ask on an interactive terminal; anything else (CI, pipes) is a no."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
