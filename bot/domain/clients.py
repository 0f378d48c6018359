"""Outdated clients: a tenant's users still load (or fail to submit from) an app build older than the one deployed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.drift import Finding
from bot.domain.versions import Policy, Rejection, Version, parse_tag

# Client builds report plain versions ("1.10.0"); read them as SemVer, prereleases included.
_CLIENT = Policy(prerelease=True)


@dataclass(frozen=True)
class ClientSeen:
    """Beacons of one app version for one tenant within the watch window."""

    app: str
    app_version: str
    loads: int
    failed_submits: int          # submits that failed with 409 "client outdated" (or any status the snippet sent)
    last_seen: datetime


def _core(version: Version) -> tuple[int, int, int]:
    return (version.major, version.minor, version.patch)


def outdated_client(tenant: str, service: str, deployed_tag: str | None, policy: Policy,
                    seen: Sequence[ClientSeen]) -> Finding | None:
    """One finding naming the oldest build still in use, when it is older than the deployed tag's version.

    Versions compare by major.minor.patch only: a variant (`-slim`) or build suffix on the image tag is not part
    of what the browser reports."""
    if deployed_tag is None:
        return None
    deployed = parse_tag(deployed_tag, replace(policy, prerelease=True))
    if isinstance(deployed, Rejection):
        return None
    old: list[tuple[tuple[int, int, int], ClientSeen]] = []
    for s in seen:
        version = parse_tag(s.app_version, _CLIENT)
        if not isinstance(version, Rejection) and _core(version) < _core(deployed):
            old.append((_core(version), s))
    if not old:
        return None
    old.sort(key=lambda pair: pair[0])
    oldest = old[0][1]
    loads = sum(s.loads for _, s in old)
    failed = sum(s.failed_submits for _, s in old)
    versions = ", ".join(sorted({s.app_version for _, s in old}))
    detail = (f"{tenant}'s users still run {oldest.app} {versions} while {deployed_tag} is deployed: "
              f"{loads} page loads, {failed} failed submits, last at {oldest.last_seen:%Y-%m-%d %H:%M} UTC")
    return Finding(tenant, service, "outdated_client", f"{oldest.app}@{oldest.app_version}", deployed_tag, detail)
