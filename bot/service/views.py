"""The JSON shapes of what the service shows: status, drift, watch, audit and tenants (DESIGN.md's contracts).

Like results.py's DeployJSON, these TypedDicts only name what the producers already return, so mypy checks every
reader (bot/slack/blocks.py, bot/cli/text.py) against them without changing one key or value."""

from __future__ import annotations

from typing import Literal, TypedDict

from bot.domain.drift import Kind
from bot.domain.notices import Verb


class FindingJSON(TypedDict):
    """One drift finding (observe.finding_dict): in status' `drift[]`, drift's and watch's `findings[]`."""

    tenant: str                # "*" for the watcher's scan-wide findings (registry_limited, scan_incomplete)
    service: str
    kind: Kind
    running: str | None
    target: str | None
    detail: str


class ReplicasJSON(TypedDict):
    running: int
    desired: int


class AvailableJSON(TypedDict):
    """The highest tag the service's policy allows now, and its digest."""

    tag: str
    digest: str


class HoldJSON(TypedDict):
    service: str
    range: str
    reason: str
    by: str
    at: str


class FreezeJSON(TypedDict):
    name: str
    window: str                            # as written: START/END, START/DURATION or cron(EXPR)/DURATION
    reason: str
    by: str
    at: str | None


class TaskJSON(TypedDict):
    """One node's newest task of a service: what Swarm says it runs there."""

    node: str                              # hostname
    node_state: str                        # ready | down | disconnected | unknown
    availability: str                      # active | pause | drain
    state: str                             # the task's Status.State (running, rejected, …)
    desired: str                           # its DesiredState
    digest: str | None                     # the digest its spec pins (what Swarm pulled by, on that node)
    error: str | None                      # the engine's error, if any


class ServiceStatusJSON(TypedDict):
    name: str
    image: str                             # the template's repository, without tag
    spec_reference: str | None             # what the Swarm spec pins; None: not running
    running_digests: list[str]
    replicas: ReplicasJSON
    update_state: str | None
    available: AvailableJSON | None        # None: the registry could not say
    registry_note: str | None
    held: HoldJSON | None                  # the tenant's hold on it (tagpin hold): its policy narrowed to that range
    drift: list[FindingJSON]
    tasks: list[TaskJSON]                  # per node, its newest task, by node name


class TenantStatusJSON(TypedDict):
    """`tagpin status TENANT --json`, and what /status renders from."""

    tenant: str
    services: list[ServiceStatusJSON]
    complete: bool
    unknown: int                           # services that could not be judged
    reconciled: list[str]                  # what settling interrupted deploys said, one line each
    freezes: list[str]                     # the freeze windows in force for it now, each with its end


class DriftJSON(TypedDict):
    """`tagpin drift --json`, and what /drift renders from. The times are ISO 8601, UTC."""

    tenants: list[str]
    findings: list[FindingJSON]
    complete: bool
    unknown: int
    registry_notes: list[str]
    scanned_at: str
    previous_scan_at: str | None
    watcher_scan_at: str | None


class SaidJSON(TypedDict):
    """One thing a watch scan told the drift channel."""

    verb: Verb
    notice: int | None
    tenant: str
    service: str
    kind: str
    resolved_by: int | None


class WatchJSON(TypedDict):
    """`tagpin watch --once --json`: one scan's findings and what it told the channel."""

    scanned_at: str
    complete: bool
    unknown: int
    findings: list[FindingJSON]
    said: list[SaidJSON]
    failed: list[str]                      # Slack calls that failed (retried next scan)
    registry_errors: list[str]


class WatchStoppedJSON(TypedDict):
    """`tagpin watch --json` without --once, once the loop stops."""

    stopped: Literal[True]


class AuditEventJSON(TypedDict):
    id: int | None
    at: str
    actor: str
    command: str
    tenant: str | None
    outcome: str
    detail: str
    deployment_id: int | None


class AuditJSON(TypedDict):
    """`tagpin audit --json`: newest first."""

    events: list[AuditEventJSON]


class TenantJSON(TypedDict):
    name: str
    created_at: str
    created_by: str
    labels: dict[str, str]                 # tagpin tenants label
    holds: list[HoldJSON]                  # tagpin hold, by service
    freezes: list[FreezeJSON]              # tagpin freeze, by name


class TenantsJSON(TypedDict):
    """`tagpin tenants --json`."""

    tenants: list[TenantJSON]
