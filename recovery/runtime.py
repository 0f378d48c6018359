"""Per-app state of the recovery service (settings, snippet, beacons, limiter), kept in app.extensions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from recovery.beacons import BeaconStore
    from recovery.ratelimit import RateLimiter
    from recovery.settings import RecoverySettings
    from recovery.snippet import Snippet

KEY = "tagpin_recovery"


@dataclass
class Runtime:
    settings: RecoverySettings
    snippet: Snippet
    beacons: BeaconStore
    limiter: RateLimiter
    demo_mode: str = "ok"               # the demo's failure switch


def install(app: Flask, rt: Runtime) -> None:
    app.extensions[KEY] = rt


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[KEY]
    return rt
