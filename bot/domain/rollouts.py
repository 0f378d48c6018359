"""A fleet rollout as the store keeps it: the rollout, and one step per tenant it moves (what was planned for that
tenant, and what came of it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.stacks import Pin

# What a rollout is: running (a process works on it, or worked on it until it was killed: then "interrupted" as
# shown), or ended: converged (every tenant), halted (a tenant did not converge), abandoned (given up by hand).
ENDED = ("converged", "halted", "abandoned")


@dataclass(frozen=True)
class StepRecord:
    """One tenant of a rollout: its wave, the exact pins its plan chose, and how far it got."""

    tenant: str
    wave: int
    pins: Mapping[str, Pin]
    plan_digest: str
    state: str = "waiting"                   # waiting | running | done
    outcome: str | None = None               # once done: converged, or what stopped it (rolled_back, failed, …)
    message: str = ""
    deployment_id: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class RolloutRecord:
    id: int
    services: tuple[str, ...] | None         # None: every service of the template
    want: Mapping[str, str | None]           # service -> exact version, None: what its policy allows
    wave_spec: str
    digest: str                              # the fleet plan's, as confirmed
    actor: str
    status: str                              # running | converged | halted | abandoned
    started_at: datetime
    finished_at: datetime | None = None
    halted_at_wave: int | None = None
    message: str = ""
    steps: tuple[StepRecord, ...] = field(default=())

    def overlaps(self, services: tuple[str, ...] | None) -> bool:
        """Whether a rollout of `services` (None: all) would move a service this one moves."""
        return self.services is None or services is None or bool(set(self.services) & set(services))

    def counts(self) -> dict[str, int]:
        """Tenants by where they stand: converged, failed (any other outcome), running, waiting."""
        out = {"converged": 0, "failed": 0, "running": 0, "waiting": 0}
        for step in self.steps:
            if step.state == "done":
                out["converged" if step.outcome == "converged" else "failed"] += 1
            else:
                out[step.state] += 1
        return out
