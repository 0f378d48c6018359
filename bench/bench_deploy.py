"""Benchmark: a stack deployed by tagpin to verified convergence vs `docker stack deploy` plus a fair wait loop.

Run from the repo root: `.venv/bin/python bench/bench_deploy.py [--rounds 3] [--services 5] [--replicas 1]`.
Each round deploys one fresh tenant with tagpin (resolve, render, validate, apply, verify, record) and one
fresh stack with `docker stack deploy` of the same rendered file, then polls the engine every 0.5 s (tagpin's
Converger interval) until every service has all replicas running on its pinned digest. The order within a
round alternates so neither side always goes first. Prints figures; exits 1 if either side failed.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Mapping
from typing import Any

import docker
from _support import (
    NAMESPACE,
    Workspace,
    best_pins,
    push_repos,
    remove_stacks,
    run_id,
    service_names,
    stack_deploy,
    template_text,
)

from bot.domain.stacks import Pin, render
from bot.service.deploy import Deployer

TARGET_RATIO = 1.2
POLL = 0.5  # the same interval as tagpin's Converger
VERSIONS = ("1.0.0", "1.1.0")
PHASES = ("lock+template", "resolve+plan+render", "record start", "apply", "verify+record", "release")


def tagpin_deploy(ws: Workspace, tenant: str, expected: str) -> tuple[float, list[float], int]:
    """Wall time of Deployer.deploy on a fresh context, the time between its steps, and its Engine API calls."""
    marks: list[float] = []
    ctx = ws.context()
    start = time.monotonic()
    result = Deployer(ctx).deploy(tenant, "bench", confirm=lambda plan: True,
                                  on_step=lambda step, detail: marks.append(time.monotonic()))
    end = time.monotonic()
    if result.outcome != "converged":
        raise RuntimeError(f"tagpin deploy of {tenant}: {result.outcome}: {result.message}")
    if result.compose != expected:
        raise RuntimeError(f"tagpin rendered another file for {tenant} than the baseline's (other pins?)")
    points = [start, *marks, end]  # steps: resolving, planned, applying, verifying, done
    return end - start, [b - a for a, b in itertools.pairwise(points)], ctx.swarm.api_calls


def converged(client: docker.DockerClient, stack: str, wanted: Mapping[str, str], replicas: int) -> bool:
    """Every service exists and has `replicas` running tasks whose spec image carries its pinned digest."""
    api: Any = client.api  # docker-py is untyped
    services = api.services(filters={"label": f"{NAMESPACE}={stack}"})
    if len(services) != len(wanted):
        return False
    ids = {s["ID"]: s["Spec"]["Name"][len(stack) + 1:] for s in services}
    running = dict.fromkeys(ids.values(), 0)
    for task in api.tasks(filters={"service": list(ids)}):
        name = ids.get(task["ServiceID"])
        image = task["Spec"]["ContainerSpec"]["Image"]
        if (name is not None and task.get("DesiredState") == "running"
                and task.get("Status", {}).get("State") == "running" and image.endswith("@" + wanted[name])):
            running[name] += 1
    return all(count == replicas for count in running.values())


def baseline_deploy(client: docker.DockerClient, stack: str, compose: str, wanted: Mapping[str, str],
                    replicas: int, timeout: float) -> tuple[float, float, int]:
    """Wall time of `docker stack deploy` plus the wait loop, the deploy command's share, and the polls made."""
    start = time.monotonic()
    stack_deploy(stack, compose)
    applied, polls = time.monotonic(), 1
    while not converged(client, stack, wanted, replicas):
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"baseline stack {stack} did not converge within {timeout:.0f} s")
        time.sleep(POLL)
        polls += 1
    return time.monotonic() - start, applied - start, polls


def prepull(client: docker.DockerClient, pins: Mapping[str, Pin], prefix: str, registry: str) -> None:
    """Pull the pinned images first, so neither side pays the first pull (Swarm skips pulls of local digests)."""
    for name, pin in pins.items():
        client.images.pull(f"{registry}/{prefix}/{name}@{pin.digest}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0, help="converge timeout per deploy, seconds")
    args = parser.parse_args()

    run = run_id()
    prefix, names = f"bench{run}", service_names(args.services)
    print(f"run {run}: {args.rounds} rounds, {args.services} services x {args.replicas} replica(s), poll {POLL} s")
    pushed = push_repos(prefix, names, VERSIONS)
    pins = best_pins(pushed, VERSIONS[-1])
    wanted = {name: pin.digest for name, pin in pins.items()}
    ws = Workspace.create(template_text(prefix, names, args.replicas), args.timeout)
    template = ws.context().template()
    client = docker.from_env()
    prepull(client, pins, prefix, "127.0.0.1:5000")
    created: list[str] = []
    ours: list[float] = []
    theirs: list[float] = []
    phases: list[list[float]] = []
    calls: list[int] = []
    applies: list[float] = []
    polls: list[int] = []
    failed = False
    try:
        for i in range(1, args.rounds + 1):
            tenant, stack = f"bd{run}-t{i}", f"bd{run}-b{i}"
            created += [tenant, stack]
            order = ("tagpin", "baseline") if i % 2 else ("baseline", "tagpin")
            for side in order:
                if side == "tagpin":
                    seconds, steps, n = tagpin_deploy(ws, tenant, render(template, tenant, pins))
                    ours.append(seconds)
                    phases.append(steps)
                    calls.append(n)
                else:
                    seconds, applied, n = baseline_deploy(client, stack, render(template, stack, pins), wanted,
                                                          args.replicas, args.timeout)
                    theirs.append(seconds)
                    applies.append(applied)
                    polls.append(n)
            print(f"  round {i} ({order[0]} first): tagpin {ours[-1]:5.2f} s ({calls[-1]} engine API calls)   "
                  f"docker stack deploy + wait {theirs[-1]:5.2f} s (deploy {applies[-1]:.2f} s, {polls[-1]} polls)"
                  f"   ratio {ours[-1] / theirs[-1]:.2f}x", flush=True)
            if not remove_stacks([tenant, stack]):
                failed = True
    except Exception as exc:  # report, clean up, exit non-zero: a benchmark whose subject failed has no figure
        print(f"FAILED: {exc}", file=sys.stderr)
        failed = True
    finally:
        remove_stacks(created)
        ws.remove()
    if failed or not ours or len(ours) != len(theirs):
        return 1
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"median: tagpin {statistics.median(ours):.2f} s, docker stack deploy + wait "
          f"{statistics.median(theirs):.2f} s -> ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): "
          f"{'OK' if ratio <= TARGET_RATIO else 'OVER TARGET'}")
    print("tagpin time by phase (median of rounds):")
    for k, label in enumerate(PHASES):
        values = [p[k] for p in phases if len(p) > k]
        if values:
            print(f"  {label:<22} {statistics.median(values) * 1000:8.0f} ms")
    print(f"baseline: `docker stack deploy` {statistics.median(applies) * 1000:.0f} ms, then "
          f"{statistics.median(polls):.0f} polls (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
