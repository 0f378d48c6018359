"""What Swarm runs, as tagpin reads it: services and their tasks, and how far a rollout got toward its digests.

Plain data, no I/O: the Swarm adapter builds these from the Engine API, the service and the domain read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from bot.domain.references import SHA256, ImageRef, parse_reference
from bot.errors import ImageReferenceError

# Task states that still count toward a rollout; anything past "running" is history.
LIVE = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}


def digest_of(reference: str) -> str | None:
    """The sha256 digest pinned in a reference, or None for an unpinned one (`repo:latest`)."""
    _, sep, digest = reference.partition("@")
    return digest if sep and SHA256.fullmatch(digest) else None


@dataclass(frozen=True)
class TaskState:
    service_id: str
    image: str                 # the task's pinned reference, as Swarm resolved it
    state: str                 # Status.State
    desired: str               # DesiredState
    error: str
    container_id: str | None
    node_id: str | None


@dataclass(frozen=True)
class ServiceState:
    id: str
    name: str                  # Swarm name: <tenant>_<service>
    tenant: str
    short_name: str            # the template's service name
    image: str                 # Spec.TaskTemplate.ContainerSpec.Image
    previous_image: str | None
    desired: int               # -1 for a global service (resolved against tasks)
    update_state: str | None
    update_message: str | None
    labels: Mapping[str, str]
    tasks: tuple[TaskState, ...] = field(default=())

    @property
    def live_tasks(self) -> tuple[TaskState, ...]:
        return tuple(t for t in self.tasks if t.desired == "running" and t.state in LIVE)

    @property
    def running_digests(self) -> tuple[str, ...]:
        found = {digest_of(t.image) or t.image for t in self.tasks if t.desired == "running"
                 and t.state == "running"}
        return tuple(sorted(found))

    @property
    def desired_tasks(self) -> int:
        """Replicas asked for; a global service wants one task per eligible node, i.e. its live tasks."""
        return self.desired if self.desired >= 0 else len(self.live_tasks)

    @cached_property
    def spec(self) -> ImageRef | None:
        """The spec image parsed (tag and digest), or None when it is not a reference tagpin can read."""
        try:
            return parse_reference(self.image)
        except ImageReferenceError:
            return None

    @property
    def running(self) -> int:
        return sum(1 for t in self.tasks if t.desired == "running" and t.state == "running")

    @property
    def last_error(self) -> str | None:
        errors = [t.error for t in self.tasks if t.error]
        return errors[-1] if errors else None


Outcome = Literal["converged", "rolled_back", "failed", "interrupted"]


@dataclass(frozen=True)
class ServiceReport:
    name: str
    target: str
    running_digests: tuple[str, ...]
    running: int
    desired: int
    state: str                      # converged | pending | rolled_back | failed | missing
    error: str | None = None


@dataclass(frozen=True)
class ConvergeReport:
    outcome: Outcome
    services: tuple[ServiceReport, ...]
    seconds: float
    message: str
    timed_out: bool = False         # out of time with tasks still pending: the one case tagpin rolls back itself
