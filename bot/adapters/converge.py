"""Wait, within a bound, until every task of a stack runs its target digest -- or say why it never will."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from bot.adapters.swarm import Swarm
from bot.domain.running import ConvergeReport, NodeState, Outcome, ServiceReport, ServiceState, digest_of

ROLLING_BACK = {"rollback_started", "rollback_paused", "rollback_completed"}
FAILED_TASK = {"failed", "rejected"}
# A brand-new service has no previous spec to roll back to; this many failed tasks means it will not start.
NEW_SERVICE_FAILURES = 3
PROVEN_KEPT = 10_000           # containers proven to run their target digest, remembered
NODES_EVERY = 2.0              # while a wait is pending, the node list is read at most this often (one call)


def _failures(svc: ServiceState, target: str) -> str | None:
    """What the engine said about the target's own tasks, by node ("on lab-worker2: No such image: …"), and
    whether other nodes ran it (a partial rollout) -- the cause, not Swarm's summary."""
    by_node = svc.failures_by_node(target)
    if not by_node:
        return next((t.error for t in reversed(svc.tasks) if t.error and digest_of(t.image) == target), None)
    ran = {t.where for t in svc.tasks if digest_of(t.image) == target and t.state in ("running", "shutdown")
           and not t.error} - set(by_node)
    said = "; ".join(f"on {node}: {error}" for node, error in sorted(by_node.items()))
    if ran:
        return (f"partial rollout: {', '.join(sorted(ran))} ran the target, {', '.join(sorted(by_node))} "
                f"could not ({said})")
    return said


def _stuck_on_down(svc: ServiceState, target: str, down: Mapping[str, NodeState]) -> list[NodeState]:
    """The down nodes Swarm's update of `svc` waits for, when everything on the nodes that are up runs the target
    (Swarm cannot start, stop or report a task on a node it lost: the update would wait out any timeout)."""
    if not down or digest_of(svc.image) != target:
        return []
    up = [t for t in svc.tasks if t.node_id not in down and t.desired == "running"]
    if any(digest_of(t.image) != target or t.state != "running" for t in up):
        return []
    return [down[node_id] for node_id, task in sorted(svc.per_node().items())
            if node_id in down and not (digest_of(task.image) == target and task.state == "running"
                                        and task.desired == "running")]


def _judge(name: str, target: str, svc: ServiceState | None, prove: Callable[[ServiceState, str], bool],
           down: Mapping[str, NodeState] | None = None) -> ServiceReport:
    if svc is None:
        return ServiceReport(name, target, (), 0, 0, "missing", "service not created yet")
    # A global service with no live task yet still wants one: "0 of 0" must not read as converged.
    desired = svc.desired_tasks if svc.desired >= 0 else max(svc.desired_tasks, 1)

    def report(state: str, error: str | None) -> ServiceReport:
        return ServiceReport(name, target, svc.running_digests, svc.running, desired, state, error)

    cause = _failures(svc, target)

    def why(summary: str | None) -> str | None:
        parts = [p for p in (summary, cause and f"cause: {cause}") if p]
        return "; ".join(dict.fromkeys(parts)) or None

    if svc.update_state in ROLLING_BACK:
        # Rolled back only once the previous spec's tasks all run again, not when Swarm flips the state.
        restored = digest_of(svc.image)
        settled = (svc.update_state == "rollback_completed" and restored is not None
                   and svc.running == desired and svc.running_digests in ((), (restored,))
                   and not [t for t in svc.live_tasks if digest_of(t.image) != restored])
        return report("rolled_back" if settled else "pending", why(svc.update_message))
    if svc.update_state == "paused":
        return report("failed", f"update paused: {why(svc.update_message)}")
    failures = [t for t in svc.tasks if t.state in FAILED_TASK and digest_of(t.image) == target]
    if svc.previous_image is None and len(failures) >= NEW_SERVICE_FAILURES and svc.running < desired:
        return report("failed", failures[-1].error or "tasks fail to start")
    live_other = [t for t in svc.live_tasks if digest_of(t.image) != target]
    done = (digest_of(svc.image) == target and svc.update_state in (None, "completed")
            and not live_other and svc.running == desired and svc.running_digests in ((), (target,))
            and (desired == 0 or prove(svc, target)))
    if done:
        return report("converged", None)
    lost = _stuck_on_down(svc, target, down or {})
    if lost:
        names = ", ".join(n.says() for n in lost)
        return report("failed", f"node {names}: Swarm cannot update or verify its task there; every task on the "
                                "nodes that are up runs the target, and Swarm starts it where a lost node "
                                "returns")
    return report("pending", why(None))


class SharedReads:
    """The stacks of several tenants deploying at once (a rollout's wave), read together: one read (two Engine API
    calls) serves every waiting deploy whose last look is older than it. A waiter is only ever served a read that
    started after its previous look began -- the first after it started waiting, so never a state from before its
    own apply."""

    def __init__(self, swarm: Swarm, tenants: Sequence[str], clock: Callable[[], float]) -> None:
        self.swarm, self.tenants, self.clock = swarm, tuple(tenants), clock
        self._lock = threading.Lock()
        self._at = float("-inf")                 # when the newest read started
        self._stacks: dict[str, dict[str, ServiceState]] = {}
        self.reads = self.looks = 0              # reads of the Engine, looks they served

    def stack(self, tenant: str, newer_than: float) -> tuple[dict[str, ServiceState], float]:
        """The tenant's stack from a read started after `newer_than`, and when that read started."""
        with self._lock:
            if self._at <= newer_than:
                at = self.clock()
                self._stacks = self.swarm.stacks(self.tenants)
                self._at, self.reads = at, self.reads + 1
            self.looks += 1
            return self._stacks.get(tenant, {}), self._at


class Converger:
    """Polls the stack (two Engine API calls a poll) until converged, rolled back, failed or out of time; while
    `sharing` several tenants, their polls share one read a round."""

    def __init__(self, swarm: Swarm, *, poll: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.swarm, self.poll, self.clock, self.sleep = swarm, poll, clock, sleep
        self.shared: SharedReads | None = None
        self._proven: OrderedDict[tuple[str, str], None] = OrderedDict()    # (container, digest) seen to match
        self._lock = threading.Lock()
        self._nodes_at = float("-inf")
        self._down: dict[str, NodeState] = {}
        self.shared_reads = self.shared_looks = 0      # over every `sharing`: Engine reads, the looks they served

    @contextmanager
    def sharing(self, tenants: Sequence[str]) -> Iterator[SharedReads]:
        """While inside, the waits of these tenants read their stacks together (O(1) Engine calls a poll round,
        whatever the number of tenants); other tenants' waits are untouched."""
        shared = SharedReads(self.swarm, tenants, self.clock)
        self.shared = shared
        try:
            yield shared
        finally:
            self.shared = None
            self.shared_reads += shared.reads
            self.shared_looks += shared.looks

    def prove(self, svc: ServiceState, target: str) -> bool:
        """Where a task's container is on this node, the image it runs must carry the target registry digest. A
        container proven once is not asked again (its image never changes), so a wait re-checks only the new ones."""
        for task in svc.tasks:
            if task.state == "running" and task.desired == "running" and task.container_id:
                key = (task.container_id, target)
                with self._lock:
                    if key in self._proven:
                        continue
                digests = self.swarm.local_repo_digests(task.container_id)
                if digests and not any(d.endswith("@" + target) for d in digests):
                    return False
                with self._lock:
                    self._proven[key] = None
                    while len(self._proven) > PROVEN_KEPT:
                        self._proven.popitem(last=False)
        return True

    def judge(self, tenant: str, targets: Mapping[str, str],
              stack: Mapping[str, ServiceState] | None = None,
              down: Mapping[str, NodeState] | None = None) -> tuple[ServiceReport, ...]:
        """One look (two Engine API calls, none when the caller read the stack): where each service stands against
        its target digest; `down`: the nodes the manager lost (their tasks cannot converge)."""
        stack = self.swarm.stack(tenant) if stack is None else stack
        return tuple(_judge(n, d, stack.get(n), self.prove, down) for n, d in sorted(targets.items()))

    def down_nodes(self) -> dict[str, NodeState]:
        """The nodes that are not ready now, read at most every NODES_EVERY seconds by all waits together."""
        with self._lock:
            now = self.clock()
            if now - self._nodes_at >= NODES_EVERY:
                self._nodes_at = now
                self._down = {i: n for i, n in self.swarm.nodes().items() if not n.up}
            return self._down

    def wait(self, tenant: str, targets: Mapping[str, str], timeout: float,
             stop: Callable[[], str | None] = lambda: None) -> ConvergeReport:
        """Poll until converged, rolled back, failed, out of time -- or `stop()` names a reason to stop looking
        (a signal): then "interrupted", with where each service stood."""
        start = looked = self.clock()
        shared = self.shared if self.shared is not None and tenant in self.shared.tenants else None
        down: dict[str, NodeState] = {}
        while True:
            if shared is not None:
                stack, looked = shared.stack(tenant, newer_than=looked)
            else:
                stack = self.swarm.stack(tenant)
            reports = self.judge(tenant, targets, stack, down)
            states = {r.state for r in reports}
            elapsed = self.clock() - start
            if states == {"converged"}:
                return ConvergeReport("converged", reports, elapsed, "every task runs its target digest")
            if "pending" not in states and "missing" not in states:
                bad = [r for r in reports if r.state in ("failed", "rolled_back")]
                outcome: Outcome = "failed" if any(r.state == "failed" for r in bad) else "rolled_back"
                why = "; ".join(f"{r.name}: {r.error or r.state}" for r in bad)
                return ConvergeReport(outcome, reports, elapsed, why)
            late = [r for r in reports if r.state in ("pending", "missing")]
            why = "; ".join(f"{r.name}: {r.running}/{r.desired} on target"
                            + (f" ({r.error})" if r.error else "") for r in late)
            if elapsed >= timeout:
                return ConvergeReport("failed", reports, elapsed, f"not converged within {timeout:.0f} s: {why}",
                                      timed_out=True)
            reason = stop()
            if reason is not None:
                return ConvergeReport("interrupted", reports, elapsed, f"interrupted by {reason} while verifying "
                                      f"after {elapsed:.0f} s: {why}")
            # Shared reads cost the same whatever the number of waits: poll twice as often, so a wait is not
            # served a staler look than its own read would have given it.
            self.sleep(self.poll / 2 if shared is not None else self.poll)
            if self.clock() - start >= NODES_EVERY:     # a quick deploy never pays for the node list
                down = self.down_nodes()

    def roll_back(self, tenant: str, services: list[str], timeout: float) -> ConvergeReport:
        """Explicit rollback after a timeout; waits for each service to settle on its previous spec."""
        stack = self.swarm.stack(tenant)
        previous = {}
        for name in services:
            svc = stack.get(name)
            if svc is not None and svc.previous_image and svc.update_state not in ROLLING_BACK:
                self.swarm.rollback(svc.name)
            if svc is not None and svc.previous_image:
                previous[name] = digest_of(svc.previous_image) or svc.previous_image
        report = self.wait(tenant, previous, timeout) if previous else None
        if report is None:
            return ConvergeReport("failed", (), 0.0, "nothing to roll back to (new services)")
        if report.outcome == "converged":
            return ConvergeReport("rolled_back", report.services, report.seconds, "previous images restored")
        return report
