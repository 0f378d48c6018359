"""CLI entry: read settings once, wire adapters → service → command, and keep the one-line error contract."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from bot.adapters.confirmations import ConfirmationTable
from bot.adapters.converge import Converger
from bot.adapters.fleet import Fleet
from bot.adapters.jobs import Jobs
from bot.adapters.notices import NoticeStore
from bot.adapters.outbox import Outbox
from bot.adapters.pushes import PendingPushes
from bot.adapters.registry import RegistryClient
from bot.adapters.releases import ReleasesSeen
from bot.adapters.rollouts import Rollouts
from bot.adapters.seen import SeenRequests
from bot.adapters.store import Store
from bot.adapters.swarm import Swarm
from bot.cli.commands import COMMANDS
from bot.cli.parser import parse
from bot.config import Settings
from bot.errors import ConfirmationRequired, OutcomeUnrecorded, StoreUnreachable, TagpinError, UsageError
from bot.service.context import Context, Tables

log = logging.getLogger("tagpin")
# A drift scan with --exit-code and findings exits 3, so scripts can tell "drift" from "error".
EXIT_DRIFT = 3
# A scan that could not judge every service is neither "drift" nor "no drift": scripts must never read it as ok.
EXIT_INCOMPLETE = 4
# How often a deploy looks at the tasks while it waits for them to run their digests, in seconds.
CONVERGE_POLL = 0.5


def build_context(settings: Settings, migrate: bool = True) -> Context:
    """migrate=False: the caller migrates itself (`tagpin migrate`, which works whatever TAGPIN_MIGRATE says)."""
    if settings.state_dir is not None and settings.database_url == f"sqlite:///{settings.state_dir / 'tagpin.db'}":
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)     # the default database's home
    store = Store(settings.database_url)
    if migrate:                     # the one start-up migration; TAGPIN_MIGRATE=never only checks, refusing if behind
        store.migrate(apply=settings.migrate == "auto")
    registry = RegistryClient(insecure=settings.insecure_registries, docker_config=settings.docker_config,
                              cache_ttl=settings.registry_cache_ttl, ca_bundle=settings.registry_ca)
    tables = Tables(outbox=Outbox(store), notices=NoticeStore(store), seen=SeenRequests(store),
                    confirmations=ConfirmationTable(store), jobs=Jobs(store), fleet=Fleet(store),
                    rollouts=Rollouts(store), releases=ReleasesSeen(store),
                    pushes=PendingPushes(store))
    swarm = cache(lambda: Swarm.from_env(settings.docker_environ))      # opened on first use, once
    return Context(settings, store, registry, swarm, tables, lambda: Converger(swarm(), poll=CONVERGE_POLL),
                   builds=registry, platforms=registry)


def started_context(settings: Settings) -> Context:
    """build_context for a service (`tagpin bot`, `tagpin watch`): a stack starts its database beside it, so a
    server that does not answer yet is tried again, for up to TAGPIN_DATABASE_WAIT seconds, saying so each time."""
    deadline, delay = time.monotonic() + settings.database_wait, 1.0
    while True:
        try:
            return build_context(settings)
        except StoreUnreachable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnreachable(f"{exc} (waited {settings.database_wait:g} s: TAGPIN_DATABASE_WAIT)"
                                       ) from exc
            print(f"tagpin: {exc}; trying again in {min(delay, left):.0f} s", file=sys.stderr, flush=True)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 10.0)


def _shell(ctx: Context, args: argparse.Namespace) -> int:
    from bot.shell import run_shell

    return run_shell(ctx, user=args.user, name=args.name)


def _bot(ctx: Context, args: argparse.Namespace) -> int:
    from bot.slack import app, server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if ctx.settings.slack_app_token:
        if args.role != "all":
            raise UsageError(f"--role {args.role} is for the HTTP server; with SLACK_APP_TOKEN (Socket Mode) "
                             "`tagpin bot` is one process")
        app.serve_socket_mode(ctx)
        return 0
    if args.role == "jobs":
        app.serve_jobs(ctx)
        return 0
    if args.role == "http":
        settings = ctx.settings
        ctx.store.close()       # each worker opens its own after the fork; none is shared
        return server.serve_http(settings, lambda: app.http_app(build_context(settings)))
    app.build(ctx, role="http")          # settings and the token checked once, before any child starts
    ctx.store.close()
    return server.supervise(server.role_command)


# Commands that run until stopped and print as they go, outside the one-JSON-object contract.
LONG_RUNNING = {"shell": _shell, "bot": _bot}
# The commands a stack runs as services: they wait for their database at start-up (started_context).
SERVICES = ("bot", "watch")


def one_line(message: str) -> str:
    """The CLI contract is one `error:` line; an error listing several problems is joined with '; '."""
    out = ""
    for line in filter(None, (part.strip() for part in message.splitlines())):
        out += line if not out else (" " if out.endswith(":") else "; ") + line
    return out


def refusal(tenant: str, exc: TagpinError) -> dict[str, Any]:
    """A deploy or rollback that applied nothing still answers in the deploy shape, with outcome "refused"; one
    whose outcome the database could not take says "unrecorded" and which deployment it was."""
    if isinstance(exc, OutcomeUnrecorded):
        return {"tenant": tenant, "deployment_id": exc.deployment_id, "outcome": "unrecorded", "services": [],
                "risks": [], "compose": ""}
    plan = exc.plan.as_dict() if isinstance(exc, ConfirmationRequired) and exc.plan is not None else {}
    return {"tenant": tenant, "deployment_id": None, "outcome": "refused", "services": plan.get("services", []),
            "risks": plan.get("risks", []), "compose": ""}


def _fail(message: str, as_json: bool, kind: str, code: int, shape: dict[str, Any] | None = None) -> int:
    message = one_line(message)
    if as_json:
        print(json.dumps({**(shape or {}), "error": message, "kind": kind}))
    print(f"error: {message}", file=sys.stderr)
    return code


def run(argv: Sequence[str]) -> int:
    as_json = "--json" in argv
    args: argparse.Namespace | None = None
    try:
        args = parse(argv)
        settings = Settings.from_env()
        _log_to(settings)
        ctx = (started_context(settings) if args.command in SERVICES
               else build_context(settings, migrate=args.command != "migrate"))
        if args.command in LONG_RUNNING:
            return LONG_RUNNING[args.command](ctx, args)
        data, text, ok = COMMANDS[args.command](ctx, args)
    except TagpinError as exc:
        shape = refusal(args.tenant, exc) if args is not None and args.command in ("deploy", "rollback") else None
        return _fail(str(exc), as_json, getattr(exc, "kind", type(exc).__name__), exc.exit_code, shape)
    except KeyboardInterrupt:
        return _fail("interrupted", as_json, "Interrupted", 130)
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("bug %s while running %s", ref, list(argv))
        where = log.handlers[0].baseFilename if log.handlers and hasattr(log.handlers[0], "baseFilename") else ""
        return _fail(f"internal error (reference {ref}); this is a bug in tagpin -- the traceback is in "
                     f"{where or 'the log'}", as_json, "InternalError", 70)
    print(json.dumps(data, indent=None if as_json else 2, default=str) if as_json else text)
    if data.get("outcome") == "interrupted":
        print(f"error: interrupted: {data.get('message')}", file=sys.stderr)
        return 130
    if data.get("complete") is False:
        print(f"error: incomplete: {data.get('unknown') or 'some'} service(s) could not be judged; see the output "
              "above", file=sys.stderr)
        return EXIT_INCOMPLETE
    if ok:
        return 0
    if args.command == "drift":
        return EXIT_DRIFT
    print(f"error: {data.get('outcome', 'failed')}: {data.get('message') or 'see the output above'}",
          file=sys.stderr)
    return 1


def _log_to(settings: Settings) -> None:
    """Bugs go to a log file with their traceback; the terminal gets one line with a reference id."""
    if log.handlers or settings.log_file is None:
        return
    try:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(settings.log_file)
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
