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
class NodeState:
    """One Swarm node as the manager sees it."""

    id: str
    hostname: str
    state: str                 # Status.State: ready | down | disconnected | unknown
    availability: str          # Spec.Availability: active | pause | drain
    message: str = ""          # Status.Message ("heartbeat failure")
    platform: str = ""         # as an image index names it: "linux/amd64"

    @property
    def up(self) -> bool:
        return self.state == "ready"

    def says(self) -> str:
        """The node's name, with what is wrong with it: `lab-worker2 (down: heartbeat failure)`."""
        trouble = [f"{self.state}: {self.message}" if self.message and not self.up else self.state] if not self.up \
            else []
        if self.availability != "active":
            trouble.append(self.availability)
        return f"{self.hostname} ({', '.join(trouble)})" if trouble else self.hostname


@dataclass(frozen=True)
class TaskState:
    service_id: str
    image: str                 # the task's pinned reference, as Swarm resolved it
    state: str                 # Status.State
    desired: str               # DesiredState
    error: str
    container_id: str | None
    node_id: str | None
    node: str | None = None    # the node's hostname, when the adapter knows it
    updated: str = ""          # UpdatedAt (RFC 3339): orders a node's tasks, newest last

    @property
    def where(self) -> str:
        return self.node or (self.node_id or "")[:12] or "no node yet"


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

    def per_node(self) -> dict[str, TaskState]:
        """Each node's newest task of this service (a global service has one a node; a replicated one may have
        several: the newest one Swarm wants running tells what the node does now, else the newest)."""
        newest: dict[str, TaskState] = {}
        for task in sorted(self.tasks, key=lambda t: (t.desired == "running", t.updated)):
            if task.node_id:
                newest[task.node_id] = task
        return newest

    def node_troubles(self, nodes: Mapping[str, NodeState]) -> tuple[str, ...]:
        """What keeps nodes from running this service's spec, one line a node: a node the manager lost
        (`lab-worker2 (down: heartbeat failure): its task cannot be verified`), or the engine's error on a node whose
        newest task of the spec's digest was rejected or failed (`on lab-worker2: rejected: No such image: …`)."""
        spec = digest_of(self.image)
        said: list[str] = []
        for node_id, task in sorted(self.per_node().items(), key=lambda kv: kv[1].where):
            node = nodes.get(node_id)
            if node is not None and not node.up and (task.desired == "running" or task.state == "running"):
                said.append(f"{node.says()}: its task cannot be verified")
            elif task.error and task.state in ("rejected", "failed") and digest_of(task.image) == spec:
                said.append(f"on {task.where}: {task.state}: {task.error}")
        unplaced = [t for t in self.tasks if not t.node_id and t.desired == "running" and t.error]
        if unplaced:
            said.append(f"{len(unplaced)} task(s) placed on no node: {unplaced[-1].error}")
        return tuple(said)

    def failures_by_node(self, digest: str) -> dict[str, str]:
        """`node → the engine's error` for the nodes whose newest task of `digest` was rejected or failed."""
        out: dict[str, str] = {}
        for task in sorted(self.tasks, key=lambda t: t.updated):
            if digest_of(task.image) == digest and task.error and task.state in ("rejected", "failed"):
                out[task.where] = task.error
            elif digest_of(task.image) == digest and task.state == "running":
                out.pop(task.where, None)
        return out


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
