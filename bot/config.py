"""Settings.from_env(environ): the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.domain.freezes import Freeze, parse_freezes
from bot.errors import UsageError

SLACK_API_URL = "https://slack.com/api/"
MigrateMode = Literal["auto", "never"]


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise UsageError(f"{name} must be positive, not {raw!r}")
    return value


def _count(environ: Mapping[str, str], name: str, default: int, most: int = 64) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= most:
        raise UsageError(f"{name} must be a whole number from 1 to {most}, not {raw!r}")
    return int(raw)


def _migrate(environ: Mapping[str, str]) -> MigrateMode:
    """TAGPIN_MIGRATE: auto (default) upgrades the schema at start-up; never leaves it to `tagpin migrate`."""
    raw = (environ.get("TAGPIN_MIGRATE") or "auto").strip().lower()
    if raw not in ("auto", "never"):
        raise UsageError(f"TAGPIN_MIGRATE must be auto or never, not {environ.get('TAGPIN_MIGRATE')!r}")
    return "auto" if raw == "auto" else "never"


def state_dir(env: Mapping[str, str]) -> Path | None:
    """Where tagpin keeps its state: $XDG_STATE_HOME/tagpin, else ~/.local/state/tagpin (XDG base directories),
    so the audit trail does not split by working directory."""
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "tagpin"
    return Path(env["HOME"]) / ".local" / "state" / "tagpin" if env.get("HOME") else None


def secret(environ: Mapping[str, str], name: str) -> str | None:
    """A secret from NAME, or from the file NAME_FILE names (Docker secrets mount at /run/secrets/…, the
    convention of official images); one trailing newline is dropped. Both set, or an unreadable file, is an
    error that names the variable and the file -- never the secret."""
    value, path = environ.get(name) or None, environ.get(f"{name}_FILE") or None
    if path is None:
        return value
    if value is not None:
        raise UsageError(f"both {name} and {name}_FILE are set; set one of them")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}_FILE={path}: cannot read it ({type(exc).__name__}: "
                         f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'})") from None
    text = text[:-1] if text.endswith("\n") else text
    return text.removesuffix("\r") or None


def _pairs(environ: Mapping[str, str], name: str) -> dict[str, str]:
    """APP=SERVICE,… (a bare APP means the service of the same name)."""
    out: dict[str, str] = {}
    for item in _csv(environ.get(name)):
        app, sep, service = item.partition("=")
        if not app.strip() or (sep and not service.strip()):
            raise UsageError(f"{name} must be a comma list of APP=SERVICE, not {environ.get(name)!r}")
        out[app.strip()] = service.strip() if sep else app.strip()
    return out


def _per_tenant(environ: Mapping[str, str], prefix: str) -> dict[str, tuple[str, ...]]:
    """TAGPIN_DEPLOYERS_ACME_EU=U1,S2 → {"acme-eu": ("U1", "S2")}: tenant names have '-' where variables have '_'."""
    return {name[len(prefix):].lower().replace("_", "-"): _csv(value)
            for name, value in environ.items() if name.startswith(prefix) and len(name) > len(prefix)}


@dataclass(frozen=True)
class Settings:
    stack_template: Path | None = None
    # Secrets are kept out of repr(): a logged Settings must never show them.
    database_url: str = field(default="sqlite:///tagpin.db", repr=False)   # from_env: $XDG_STATE_HOME/tagpin/…
    insecure_registries: tuple[str, ...] = ()
    deployers: tuple[str, ...] = ()
    audit_channel: str | None = None
    drift_channel: str | None = None
    slack_api_url: str = SLACK_API_URL
    bind: str = "127.0.0.1:3000"
    watch_bind: str = "127.0.0.1:3001"             # the watcher's /healthz, /readyz, /metrics
    # POST /registry/events on the watcher's port: the bearer token registries send; None = the endpoint is off.
    registry_events_token: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    docker_config: Path | None = None
    converge_timeout: float = 120.0
    lease_ttl: float = 30.0                         # a deploy renews its lease every third of this
    registry_cache_ttl: float = 60.0
    registry_ca: Path | None = None                 # TAGPIN_REGISTRY_CA: a PEM bundle of extra registry CAs
    docker_environ: Mapping[str, str] = field(default_factory=dict)
    actor: str = "cli"
    log_file: Path | None = None
    state_dir: Path | None = None                   # $XDG_STATE_HOME/tagpin: the default database and error log
    watch_interval: float = 300.0
    watch_remind: float = 4 * 3600.0
    watch_digest_ttl: float = 900.0
    client_apps: Mapping[str, str] = field(default_factory=dict)   # beacon app name → template service
    client_window: float = 24 * 3600.0
    tenant_deployers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # narrows TAGPIN_DEPLOYERS
    tenant_channels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # where a tenant may be deployed
    migrate: MigrateMode = "auto"                   # TAGPIN_MIGRATE: never = start-up only checks the schema
    # `tagpin bot` over HTTP: acknowledging processes (gunicorn workers) and their threads; the job worker's threads.
    bot_workers: int = 2
    bot_threads: int = 4
    bot_jobs: int = 8
    # `tagpin bot` and `tagpin watch`: how long start-up waits for a database server that is not up yet (a stack
    # starts its services together); a one-shot command never waits.
    database_wait: float = 60.0
    # TAGPIN_FREEZE: [NAME=]WINDOW;… windows in which every deploy and rollout is refused (bot/domain/freezes.py)
    freezes: tuple[Freeze, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        template = env.get("TAGPIN_STACK_TEMPLATE")
        docker_config = env.get("DOCKER_CONFIG")
        home = env.get("HOME")
        config_path = (
            Path(docker_config) / "config.json" if docker_config
            else Path(home) / ".docker" / "config.json" if home else None
        )
        state = state_dir(env)
        return cls(
            stack_template=Path(template) if template else None,
            database_url=secret(env, "TAGPIN_DATABASE_URL")
            or (f"sqlite:///{state / 'tagpin.db'}" if state else "sqlite:///tagpin.db"),
            insecure_registries=_csv(env.get("TAGPIN_INSECURE_REGISTRIES")),
            deployers=_csv(env.get("TAGPIN_DEPLOYERS")),
            audit_channel=env.get("TAGPIN_AUDIT_CHANNEL") or None,
            drift_channel=env.get("TAGPIN_DRIFT_CHANNEL") or None,
            slack_api_url=env.get("TAGPIN_SLACK_API_URL") or SLACK_API_URL,
            bind=env.get("TAGPIN_BIND") or "127.0.0.1:3000",
            watch_bind=env.get("TAGPIN_WATCH_BIND") or "127.0.0.1:3001",
            registry_events_token=secret(env, "TAGPIN_REGISTRY_EVENTS_TOKEN"),
            slack_bot_token=secret(env, "SLACK_BOT_TOKEN"),
            slack_signing_secret=secret(env, "SLACK_SIGNING_SECRET"),
            slack_app_token=secret(env, "SLACK_APP_TOKEN"),
            docker_config=config_path,
            converge_timeout=_float(env, "TAGPIN_CONVERGE_TIMEOUT", 120.0),
            lease_ttl=_float(env, "TAGPIN_LEASE_TTL", 30.0),
            registry_cache_ttl=_float(env, "TAGPIN_REGISTRY_CACHE_TTL", 60.0),
            registry_ca=Path(env["TAGPIN_REGISTRY_CA"]) if env.get("TAGPIN_REGISTRY_CA") else None,
            docker_environ={k: v for k, v in env.items() if k.startswith("DOCKER_") or k in ("PATH", "HOME")},
            actor=env.get("TAGPIN_ACTOR") or (f"{env['USER']} (cli)" if env.get("USER") else "cli"),
            watch_interval=_float(env, "TAGPIN_WATCH_INTERVAL", 300.0),
            watch_remind=_float(env, "TAGPIN_WATCH_REMIND", 4 * 3600.0),
            watch_digest_ttl=_float(env, "TAGPIN_WATCH_DIGEST_TTL", 900.0),
            client_apps=_pairs(env, "TAGPIN_CLIENT_APPS"),
            client_window=_float(env, "TAGPIN_CLIENT_WINDOW", 24 * 3600.0),
            tenant_deployers=_per_tenant(env, "TAGPIN_DEPLOYERS_"),
            tenant_channels=_per_tenant(env, "TAGPIN_CHANNELS_"),
            state_dir=state,
            migrate=_migrate(env),
            bot_workers=_count(env, "TAGPIN_BOT_WORKERS", 2),
            bot_threads=_count(env, "TAGPIN_BOT_THREADS", 4),
            bot_jobs=_count(env, "TAGPIN_BOT_JOBS", 8),
            database_wait=_float(env, "TAGPIN_DATABASE_WAIT", 60.0),
            freezes=parse_freezes(env.get("TAGPIN_FREEZE") or ""),
            log_file=(Path(env["TAGPIN_LOG_FILE"]) if env.get("TAGPIN_LOG_FILE")
                      else state / "errors.log" if state else None),
        )
