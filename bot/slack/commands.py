"""Slash-command text → an Invocation: `/deploy acme frontend@1.10.0 --dry-run`, or the same under `/tagpin`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bot.domain.freezes import freeze_reason
from bot.errors import UsageError

# Every usage as `/tagpin <command>`: Slack keeps `/status` for setting one's own status, so a bare `/status` never
# reaches the app; status leads because it is the first thing people ask.
USAGE = {
    "status": "/tagpin status TENANT",
    "deploy": "/tagpin deploy TENANT [SERVICE@VERSION …] [--dry-run] [--allow-downgrade] "
              "[--override-freeze --reason \"TEXT\"]",
    "drift": "/tagpin drift [TENANT …]",
    "audit": "/tagpin audit [TENANT] [--limit N]",
    "rollback": "/tagpin rollback TENANT",
    "rollout": "/tagpin rollout [SERVICE[@VERSION] …] [--tenants T1,T2] [--label KEY=VALUE] [--waves 1,10%,100%] "
               "[--parallel N] [--dry-run] [--override-freeze --reason \"TEXT\"] · "
               "/tagpin rollout --resume ID [--parallel N] · "
               "/tagpin rollout --abandon ID --reason \"TEXT\"",
    "help": "/tagpin help",
}
# Slack clients (macOS autocorrect) turn `--dry-run` into `—dry-run`; accept what people actually send.
DASHES = str.maketrans({"\u2014": "--", "\u2013": "--"})   # em dash, en dash


@dataclass(frozen=True)
class Invocation:
    name: str
    tenant: str | None = None
    tenants: tuple[str, ...] = ()
    overrides: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    allow_downgrade: bool = False
    limit: int = 10
    services: tuple[str, ...] = ()              # rollout: SERVICE[@VERSION] …
    options: dict[str, str] = field(default_factory=dict)   # rollout: --tenants, --label, --waves, --parallel,
    #                                                         --resume ID, --abandon ID (with reason)
    override_freeze: str | None = None      # --override-freeze --reason "TEXT": TEXT


def help_text() -> str:
    lines = "\n".join(f"• `{usage}`" for name, usage in USAGE.items() if name != "help")
    return (f"tagpin commands:\n{lines}\n"
            "`/deploy`, `/drift`, `/audit`, `/rollback` and `/rollout` also work on their own.")


def parse(command: str, text: str) -> Invocation:
    """Parse one slash command; raise UsageError with the usage line when it does not fit."""
    try:
        words = shlex.split(text.translate(DASHES))
    except ValueError as exc:
        raise UsageError(f"cannot read `{text}`: {exc}") from None
    words = _join_values(words)
    name = command.lstrip("/")
    if name == "tagpin":
        if not words:
            return Invocation("help")
        name, words = words[0].lstrip("/"), words[1:]
    if name not in USAGE:
        raise UsageError(f"unknown command `{name}`. {help_text()}")
    flags = [w for w in words if w.startswith("--")]
    args = [w for w in words if not w.startswith("--")]
    known = {"deploy": {"--dry-run", "--allow-downgrade", "--override-freeze", "--reason"},
             "audit": {"--limit"},
             "rollout": {"--dry-run", "--reason", "--override-freeze", *ROLLOUT_VALUES}}.get(name, set())
    for flag in flags:
        if flag.split("=", 1)[0] not in known:
            raise UsageError(f"unknown option `{flag}`; usage: `{USAGE[name]}`")
    if name == "help":
        return Invocation("help")
    if name == "drift":
        return Invocation("drift", tenants=tuple(args))
    if name == "audit":
        return Invocation("audit", tenant=_at_most_one(name, args), limit=_limit(flags))
    if name == "rollout":
        return _rollout(args, flags)
    if not args:
        raise UsageError(f"which tenant? usage: `{USAGE[name]}`")
    tenant, rest = args[0], args[1:]
    if name != "deploy" and rest:
        raise UsageError(f"unexpected `{' '.join(rest)}`; usage: `{USAGE[name]}`")
    overrides: dict[str, str] = {}
    for item in rest:
        service, sep, version = item.partition("@")
        if not sep or not service or not version:
            raise UsageError(f"`{item}`: expected SERVICE@VERSION, e.g. frontend@1.10.0")
        overrides[service] = version
    return Invocation(name, tenant=tenant, overrides=overrides, dry_run="--dry-run" in flags,
                      allow_downgrade="--allow-downgrade" in flags, override_freeze=_override(flags))




ROLLOUT_VALUES = ("--tenants", "--label", "--waves", "--parallel", "--resume", "--abandon")
# Options that take a value, `--limit 20` or `--limit=20`: as one word each, so a value is not read as a tenant.
VALUED = ("--limit", "--reason", *ROLLOUT_VALUES)


def _join_values(words: list[str]) -> list[str]:
    out: list[str] = []
    it = iter(words)
    for word in it:
        out.append(f"{word}={next(it, '')}" if word in VALUED else word)
    return out


def _rollout(args: list[str], flags: list[str]) -> Invocation:
    """`/rollout frontend@1.5.0 --label tier=gold --waves 1,50%,100%`: checked here as far as words go; the
    service checks the rest (services, versions, tenants, waves) when it plans."""
    options: dict[str, str] = {}
    for flag in flags:
        key, sep, value = flag.partition("=")
        if key not in ROLLOUT_VALUES:
            continue
        if not sep or not value:
            raise UsageError(f"{key} needs a value; usage: `{USAGE['rollout']}`")
        name = key.removeprefix("--")
        if name in options:
            raise UsageError(f"{key} is given twice; usage: `{USAGE['rollout']}`")
        options[name] = value
    parallel = options.get("parallel", "1")
    if not parallel.isdigit() or not 1 <= int(parallel) <= 32:
        raise UsageError("--parallel takes a number from 1 to 32, e.g. --parallel 4")
    reasons = [f.partition("=")[2] for f in flags if f.split("=", 1)[0] == "--reason"]
    which: list[str] = [k for k in ("resume", "abandon") if k in options]
    if which:
        if "--override-freeze" in flags:
            raise UsageError(f"--{which[0]} takes the rollout as it was planned: drop --override-freeze")
        return _rollout_by_id(which, args, flags, options, reasons)
    if reasons and "--override-freeze" not in flags:
        raise UsageError("--reason goes with --abandon ID or --override-freeze (say why)")
    for item in args:
        service, sep, version = item.partition("@")
        if not service or (sep and not version):
            raise UsageError(f"`{item}`: expected SERVICE or SERVICE@VERSION, e.g. frontend@1.10.0")
    return Invocation("rollout", services=tuple(args), options=options, dry_run="--dry-run" in flags,
                      override_freeze=_override(flags))


def _rollout_by_id(which: list[str], args: list[str], flags: list[str], options: dict[str, str],
                   reasons: list[str]) -> Invocation:
    """`/rollout --resume 7 [--parallel N]`, `/rollout --abandon 7 --reason "TEXT"`: the rollout as it was planned,
    so nothing that plans goes with them."""
    key = which[0]
    planning = [name for name, given in (("SERVICE", bool(args)), ("--tenants", "tenants" in options),
                                         ("--label", "label" in options), ("--waves", "waves" in options),
                                         ("--dry-run", "--dry-run" in flags),
                                         ("--resume and --abandon", len(which) > 1),
                                         ("--parallel", key == "abandon" and "parallel" in options)) if given]
    if planning:
        raise UsageError(f"--{key} takes the rollout as it was planned: drop {', '.join(planning)}")
    if not options[key].isdigit() or int(options[key]) < 1:
        raise UsageError(f"--{key} takes a rollout's number, e.g. --{key} 7 (its progress message and `tagpin "
                         "rollouts` show it)")
    if key == "abandon":
        if not reasons or not reasons[-1].strip():
            raise UsageError('--abandon needs --reason "TEXT": whoever finds the rollout later reads it')
        options = {**options, "reason": reasons[-1].strip()}
    elif reasons:
        raise UsageError("--reason goes with --abandon ID or --override-freeze (say why)")
    return Invocation("rollout", options=options)


def _override(flags: list[str]) -> str | None:
    """--override-freeze needs --reason "TEXT" (audited); --reason alone means nothing."""
    reasons = [f.partition("=")[2] for f in flags if f.split("=", 1)[0] == "--reason"]
    if "--override-freeze" not in flags:
        if reasons:
            raise UsageError("--reason goes with --override-freeze (say why the freeze is overridden)")
        return None
    if not reasons:
        raise UsageError('--override-freeze needs --reason "TEXT": the audit trail must say why')
    return freeze_reason(reasons[-1])


def _at_most_one(name: str, args: list[str]) -> str | None:
    if len(args) > 1:
        raise UsageError(f"one tenant at most; usage: `{USAGE[name]}`")
    return args[0] if args else None


def _limit(flags: list[str]) -> int:
    for flag in flags:
        if flag.startswith("--limit"):
            _, _, raw = flag.partition("=")
            if not raw.isdigit() or not 1 <= int(raw) <= 100:
                raise UsageError("--limit takes a number from 1 to 100, e.g. --limit 20")
            return int(raw)
    return 10
