"""RecoverySettings.from_env(environ): the recovery service's only reader of TAGPIN_RECOVERY_* variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "TAGPIN_RECOVERY_"
DEFAULT_STATIC = Path(__file__).resolve().parent.parent / "static"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:]+\](:\d{1,5})?$")


class SettingsError(ValueError):
    """A TAGPIN_RECOVERY_* variable that cannot be used; the message names it and says what it needs."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, not {value}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(PREFIX + name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{PREFIX}{name} must be 1 or 0, not {raw!r}")


def _origins(env: Mapping[str, str]) -> frozenset[str]:
    origins = [o.strip().rstrip("/") for o in env.get(PREFIX + "ALLOWED_ORIGINS", "").split(",") if o.strip()]
    for origin in origins:
        # Exact origins only: a wildcard would let any site read the snippet's responses with credentials.
        if not _ORIGIN.match(origin):
            raise SettingsError(
                f"{PREFIX}ALLOWED_ORIGINS: {origin!r} is not an origin like https://app.example.com[:port]"
            )
    return frozenset(origins)


@dataclass(frozen=True)
class RecoverySettings:
    max_bytes: int = 100 * 1024 * 1024
    allowed_origins: frozenset[str] = frozenset()
    cache_seconds: int = 300
    database_url: str = "sqlite:///tagpin.db"
    beacons_per_minute: int = 60
    proxy_hops: int = 0
    demo: bool = False
    static_dir: Path = DEFAULT_STATIC

    def allows(self, origin: str | None) -> bool:
        """The one origin rule, for CORS headers and beacons alike: a configured origin, exactly."""
        return origin is not None and origin in self.allowed_origins

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RecoverySettings:
        env = os.environ if environ is None else environ
        static = env.get(PREFIX + "STATIC_DIR", "").strip()
        settings = cls(
            max_bytes=_int(env, "MAX_BYTES", cls.max_bytes, 1024),
            allowed_origins=_origins(env),
            cache_seconds=_int(env, "CACHE_SECONDS", cls.cache_seconds, 0),
            database_url=env.get(PREFIX + "DATABASE_URL", "").strip() or cls.database_url,
            beacons_per_minute=_int(env, "BEACONS_PER_MINUTE", cls.beacons_per_minute, 1),
            proxy_hops=_int(env, "PROXY_HOPS", 0, 0),
            demo=_flag(env, "DEMO"),
            static_dir=Path(static) if static else DEFAULT_STATIC,
        )
        if not (settings.static_dir / "recovery.js").is_file():
            raise SettingsError(f"{PREFIX}STATIC_DIR: no recovery.js in {settings.static_dir}")
        return settings
