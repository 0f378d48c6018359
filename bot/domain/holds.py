"""A tenant's holds and labels: a hold narrows one service's policy for that tenant only (keep acme on <2.0.0),
for deploys, rollouts and drift alike; labels select tenants (canary=true goes first in a rollout)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.ranges import parse_range
from bot.domain.stacks import ServiceTemplate
from bot.errors import UsageError

# Label keys as Kubernetes and Docker spell theirs (a prefix of dotted names is allowed); values are short text.
_KEY = re.compile(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?")
_VALUE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
MAX_REASON = 500


@dataclass(frozen=True)
class Hold:
    tenant: str
    service: str
    range: str                    # an npm-style range every candidate must also be in
    reason: str
    by: str
    at: datetime

    def says(self) -> str:
        return f"held at {self.range} by {self.by}: {self.reason}"


def label_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise UsageError(f"invalid label key {key!r}: 1-63 lowercase letters, digits, '.', '_' or '-', starting and "
                         "ending with a letter or digit")
    return key


def label_value(key: str, value: str) -> str:
    if not _VALUE.fullmatch(value):
        raise UsageError(f"invalid value {value!r} for label {key}: 1-63 letters, digits, '.', '_' or '-', starting "
                         "and ending with a letter or digit")
    return value


def hold_range(text: str, prerelease: bool = False) -> str:
    """The range as given, if it parses (npm semantics, as x-tagpin constraints); else a UsageError naming it."""
    stripped = text.strip()
    if not stripped:
        raise UsageError("a hold needs a range, e.g. '<2.0.0' or '~1.4'")
    parse_range(stripped, prerelease)
    return stripped


def hold_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise UsageError("a hold needs --reason: whoever meets it later must know why")
    if len(reason) > MAX_REASON:
        raise UsageError(f"--reason is {len(reason)} characters; at most {MAX_REASON}")
    return reason


def held(services: Iterable[ServiceTemplate], holds: Mapping[str, Hold]) -> tuple[ServiceTemplate, ...]:
    """The tenant's services, each held one's policy narrowed to its hold as well."""
    return tuple(replace(s, policy=replace(s.policy, held=holds[s.name].range)) if s.name in holds else s
                 for s in services)
