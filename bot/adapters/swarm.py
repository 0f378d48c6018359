"""Swarm adapter: read a tenant's services and tasks, apply a rendered stack, wait, verify, roll back."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import docker
import docker.errors

from bot import metrics
from bot.adapters import docker_context
from bot.adapters.engine_errors import last_line, short
from bot.domain.platforms import node_platform
from bot.domain.running import NodeState, ServiceState, TaskState
from bot.errors import SwarmError

NAMESPACE = "com.docker.stack.namespace"
def _service(raw: Mapping[str, Any], tasks: Iterable[TaskState]) -> ServiceState:
    spec = raw["Spec"]
    labels = spec.get("Labels") or {}
    tenant = labels.get(NAMESPACE, "")
    name = spec["Name"]
    mode = spec.get("Mode", {})
    desired = mode["Replicated"].get("Replicas", 1) if "Replicated" in mode else -1
    previous = raw.get("PreviousSpec", {}).get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image")
    update = raw.get("UpdateStatus") or {}
    return ServiceState(
        id=raw["ID"], name=name, tenant=tenant,
        short_name=name[len(tenant) + 1:] if tenant and name.startswith(tenant + "_") else name,
        image=spec["TaskTemplate"]["ContainerSpec"]["Image"], previous_image=previous, desired=desired,
        update_state=update.get("State"), update_message=update.get("Message"), labels=labels,
        tasks=tuple(tasks),
    )


def _task(raw: Mapping[str, Any], hostnames: Mapping[str, str]) -> TaskState:
    status = raw.get("Status", {})
    node_id = raw.get("NodeID")
    return TaskState(
        service_id=raw["ServiceID"], image=raw["Spec"]["ContainerSpec"]["Image"],
        state=status.get("State", ""), desired=raw.get("DesiredState", ""), error=status.get("Err", ""),
        container_id=status.get("ContainerStatus", {}).get("ContainerID"), node_id=node_id,
        node=hostnames.get(node_id) if node_id else None, updated=raw.get("UpdatedAt", ""),
    )


def _node(raw: Mapping[str, Any]) -> NodeState:
    status, spec, described = raw.get("Status") or {}, raw.get("Spec") or {}, raw.get("Description") or {}
    platform = described.get("Platform") or {}
    return NodeState(id=raw["ID"], hostname=described.get("Hostname") or raw["ID"][:12],
                     state=status.get("State", "unknown"), availability=spec.get("Availability", "active"),
                     message=status.get("Message", ""),
                     platform=node_platform(str(platform.get("OS", "")), str(platform.get("Architecture", ""))))


class Swarm:
    """Reads go through the Engine API (docker SDK); applying a stack goes through `docker stack deploy`."""

    def __init__(self, client: docker.DockerClient, *, docker_bin: str = "docker",
                 environ: Mapping[str, str] | None = None,
                 run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
                 engine: str = "the Docker engine") -> None:
        self.client = client
        self.engine = engine       # said in every error, so an operator sees which engine refused
        self.docker_bin = docker_bin
        self.environ = dict(environ if environ is not None else os.environ)
        self._run = run
        self.api_calls = 0
        self._hostnames: dict[str, str] = {}    # node id -> hostname: nodes are few and rarely renamed

    def ping(self) -> str:
        """Ask the engine whether it answers (raises what the SDK raises); returns which engine it is."""
        self.client.ping()
        return self.engine

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Swarm:
        """One engine for the SDK and the CLI: the one the docker CLI would pick (DOCKER_HOST, DOCKER_CONTEXT,
        currentContext), so tagpin never reads and verifies one engine while `docker stack deploy` hits another."""
        env = dict(os.environ if environ is None else environ)
        engine = docker_context.resolve(env)
        label = f"the Docker engine of {engine.describe()}"
        try:
            client = engine.client(env)
            client.ping()
        except docker.errors.DockerException as exc:
            raise SwarmError(f"cannot reach {label}: {short(exc)}") from exc
        return cls(client, environ=engine.cli_environ(env), engine=label)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.api_calls += 1
        call = getattr(fn, "__name__", "other")
        try:
            result = fn(*args, **kwargs)
        except docker.errors.APIError as exc:
            metrics.ENGINE_CALLS.labels(call=call, result="refused").inc()
            raise SwarmError(f"{self.engine} refused: {short(exc)}") from exc
        except docker.errors.DockerException as exc:
            metrics.ENGINE_CALLS.labels(call=call, result="unreachable").inc()
            raise SwarmError(f"cannot reach {self.engine}: {short(exc)}") from exc
        metrics.ENGINE_CALLS.labels(call=call, result="ok").inc()
        return result

    def nodes(self) -> dict[str, NodeState]:
        """Every node of the swarm, as the manager sees it now: one Engine API call."""
        found = {n.id: n for n in map(_node, self._call(self.client.api.nodes))}
        self._hostnames = {node_id: n.hostname for node_id, n in found.items()}
        return found

    def stacks(self, tenants: Iterable[str] | None = None) -> dict[str, dict[str, ServiceState]]:
        """Every stack's services with their tasks: two Engine API calls, whatever the count (a third, the node
        list, only when a task is on a node not seen before, to name it)."""
        wanted = set(tenants) if tenants is not None else None
        filters: dict[str, Any] = {"label": NAMESPACE}
        if wanted is not None and len(wanted) == 1:
            filters = {"label": f"{NAMESPACE}={next(iter(wanted))}"}
        services = self._call(self.client.api.services, filters=filters)
        services = [s for s in services if wanted is None or s["Spec"]["Labels"].get(NAMESPACE) in wanted]
        by_service: dict[str, list[TaskState]] = {s["ID"]: [] for s in services}
        if services:
            task_filters = {"service": [s["ID"] for s in services]} if len(services) <= 20 else {}
            raws = [t for t in self._call(self.client.api.tasks, filters=task_filters)
                    if t.get("ServiceID") in by_service]
            if any(t.get("NodeID") and t["NodeID"] not in self._hostnames for t in raws):
                self.nodes()
            for raw in raws:
                by_service[raw["ServiceID"]].append(_task(raw, self._hostnames))
        out: dict[str, dict[str, ServiceState]] = {}
        for raw in services:
            state = _service(raw, by_service[raw["ID"]])
            out.setdefault(state.tenant, {})[state.short_name] = state
        return out

    def stack(self, tenant: str) -> dict[str, ServiceState]:
        return self.stacks([tenant]).get(tenant, {})

    def deploy(self, tenant: str, compose: str, references: Mapping[str, str]) -> list[str]:
        """`docker stack deploy` (retried once on "update out of sequence"), then each spec set to its pin; returns
        what had to be set again. The CLI keeps a spec's image when the file's image equals the one it last deployed
        (its com.docker.stack.image label), so an image set by hand since (`docker service update --image …:latest`)
        would survive every redeploy of the same pin: one read of the services (one Engine API call) finds those."""
        self._stack_deploy(tenant, compose)
        said: list[str] = []
        raws = self._call(self.client.api.services, filters={"label": f"{NAMESPACE}={tenant}"}) if references else []
        for svc in sorted((_service(raw, ()) for raw in raws), key=lambda s: s.short_name):
            want = references.get(svc.short_name)
            if want is None or svc.image == want:
                continue
            done = self._docker([self.docker_bin, "service", "update", "--detach", "--no-resolve-image",
                                 "--with-registry-auth", "--image", want, svc.name])
            if done.returncode != 0:
                raise SwarmError(f"docker service update --image {want} {svc.name} failed: "
                                 f"{last_line(done.stderr)}")
            said.append(f"{svc.short_name}: Swarm kept {svc.image}, set outside the stack file, over the pin; "
                        "set to the pin")
        return said

    def _stack_deploy(self, tenant: str, compose: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix=f"tagpin-{tenant}-", delete=False) as f:
            f.write(compose)
            path = f.name
        try:
            argv = [self.docker_bin, "stack", "deploy", "--with-registry-auth", "--prune",
                    "--resolve-image", "never", "--compose-file", path, tenant]
            for attempt in (1, 2):
                done = self._docker(argv)
                if done.returncode == 0:
                    return
                if "out of sequence" not in done.stderr or attempt == 2:
                    raise SwarmError(f"docker stack deploy {tenant} failed: {last_line(done.stderr)}")
                time.sleep(1.0)
        finally:
            os.unlink(path)

    def rollback(self, service_name: str) -> None:
        """Swarm's own rollback to the service's previous spec (used when a rollout times out)."""
        done = self._docker([self.docker_bin, "service", "rollback", "--detach", service_name])
        if done.returncode != 0:
            raise SwarmError(f"docker service rollback {service_name} failed: {last_line(done.stderr)}")

    def remove_stack(self, tenant: str, timeout: float = 60.0) -> None:
        """`docker stack rm`, then wait (bounded) until Swarm lists none of the stack's services."""
        done = self._docker([self.docker_bin, "stack", "rm", tenant])
        if done.returncode != 0:
            raise SwarmError(f"docker stack rm {tenant} failed: {last_line(done.stderr)}")
        deadline = time.monotonic() + timeout
        while self.stack(tenant):
            if time.monotonic() > deadline:
                raise SwarmError(f"stack {tenant} still has services {timeout:.0f} s after docker stack rm")
            time.sleep(0.5)

    def platforms(self) -> frozenset[str]:
        """The platforms of the nodes that take tasks (ready and active), as an index names them: one Engine call."""
        return frozenset(n.platform for n in self.nodes().values() if n.up and n.availability == "active")

    def local_repo_digests(self, container_id: str) -> tuple[str, ...]:
        """The registry digests of the image a local container runs (empty when it is on another node)."""
        try:
            container = self._call(self.client.api.inspect_container, container_id)
            image = self._call(self.client.api.inspect_image, container["Image"])
        except SwarmError:
            return ()
        return tuple(image.get("RepoDigests") or ())

    def _docker(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        call = "cli " + " ".join(argv[1:3])              # "cli stack deploy", "cli service rollback"
        try:
            done = self._run(argv, capture_output=True, text=True, env=self.environ, timeout=300, check=False)
        except FileNotFoundError as exc:
            metrics.ENGINE_CALLS.labels(call=call, result="unreachable").inc()
            raise SwarmError(f"the docker CLI ({self.docker_bin}) is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            metrics.ENGINE_CALLS.labels(call=call, result="timeout").inc()
            raise SwarmError(f"{' '.join(argv[:3])} did not finish within 300 s") from exc
        metrics.ENGINE_CALLS.labels(call=call, result="ok" if done.returncode == 0 else "refused").inc()
        return done

