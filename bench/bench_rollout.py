"""Benchmark: a fleet rollout (`tagpin rollout`) of one release to many tenants, against one tenant's deploy.

Run from the repo root: `.venv/bin/python bench/bench_rollout.py [--tenants 100] [--services 5] [--replicas 1]
[--parallel 8] [--waves 1,10%,100%] [--database sqlite|postgres]`.
Every tenant's stack (one template, `--services` sleeping busybox services of `--replicas` tasks, host network) is
deployed at 1.1.0 and onboarded; then 1.2.0 of the first repository is pushed. Timed on the real Swarm and registry:
  1. one tenant's `tagpin deploy` of 1.2.0 (the yardstick);
  2. the rollout of 1.2.0 to all the others, waves and parallelism as given: wall time, per tenant, against the
     target "the fleet in <= 15x one tenant's time"; registry requests of the plan (target: repositories + chosen
     tags) and of the whole run (target: the same); Engine API calls per tenant, and the waits' looks at a stack
     against the reads of the wave's stacks that served them (one read, 2 Engine API calls, a poll round);
  3. a release (1.3.0) rolled out with one tenant of wave 2 broken (its first service replaced by a plain one of the
     same name, so `docker stack deploy` fails there): tenants started after the failure (target 0), waves reached.
Prints figures; exits 1 when a run did not do what it set out to (a target missed is printed, not fatal).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime

from _fleet import Body, Fleet, parser, run
from _support import Workspace

from bot import metrics
from bot.service.deploy import Deployer
from bot.service.rollout import Want, plan_rollout
from bot.service.waves import TenantResult, apply_rollout

TARGET_FLEET_X = 15.0


def _count(counter: object) -> float:
    return sum(s.value for family in counter.collect() for s in family.samples  # type: ignore[attr-defined]
               if s.name.endswith("_total"))


def _break(tenant: str, service: str) -> None:
    """Swap the tenant's service for a plain one of the same name: the next `docker stack deploy` of it fails."""
    name = f"{tenant}_{service}"
    subprocess.run(["docker", "service", "rm", name], capture_output=True, check=True)
    for _ in range(100):
        if subprocess.run(["docker", "service", "inspect", name], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    subprocess.run(["docker", "service", "create", "--detach", "--name", name, "--replicas", "0", "--network",
                    "host", "127.0.0.1:5000/does/not/matter:1"], capture_output=True, check=True)


def settled(timeout: float = 600) -> float:
    """Wait until every service on the Swarm runs all its replicas (the setup's tasks started): the yardstick deploy
    must not compete with hundreds of task starts. The seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        shown = subprocess.run(["docker", "service", "ls", "--format", "{{.Replicas}}"], capture_output=True,
                               text=True, check=True).stdout.split()
        if all(r.split("/")[0] == r.split("/")[1].split(" ")[0] for r in shown):
            return time.monotonic() - start
        time.sleep(1)
    raise RuntimeError(f"the fleet's tasks did not all start within {timeout:.0f} s")


def swarm_update_seconds(service: str) -> float:
    """How long Swarm's own rolling update of `service` took, from its UpdateStatus (what no tagpin change can cut)."""
    shown = subprocess.run(["docker", "service", "inspect", service, "--format", "{{json .UpdateStatus}}"],
                           capture_output=True, text=True, check=True).stdout
    status = json.loads(shown) or {}

    def at(key: str) -> datetime:
        whole, _, fraction = status[key].rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")
    return (at("CompletedAt") - at("StartedAt")).total_seconds()


def rounds(waves: list[int], parallel: int) -> int:
    """Deploys in a row the waves need at this parallelism, each wave waiting for its last: the ratio's floor."""
    return sum(-(-n // parallel) for n in waves)


def body(args: argparse.Namespace) -> Body:
    def measure(f: Fleet, kind: str, ws: Workspace) -> tuple[bool, dict[str, float]]:
        print(f"  every task running after {settled():.0f} s", flush=True)
        ctx = ws.context()
        first = f.names[0]
        start = time.monotonic()
        one = Deployer(ctx).deploy(f.tenants[0], "bench", confirm=lambda plan: True)
        single = time.monotonic() - start
        ok = one.outcome == "converged"
        swarm_s = swarm_update_seconds(f"{f.tenants[0]}_{first}")
        print(f"  one tenant's deploy: {single:.2f} s ({one.outcome}), of which Swarm's own update of the changed "
              f"service {swarm_s:.2f} s (UpdateStatus StartedAt to CompletedAt), tagpin {single - swarm_s:.2f} s",
              flush=True)

        registry0, engine0 = _count(metrics.REGISTRY_REQUESTS), _count(metrics.ENGINE_CALLS)
        reads0, looks0 = ctx.converger.shared_reads, ctx.converger.shared_looks    # type: ignore[attr-defined]
        start = time.monotonic()
        fp = plan_rollout(ctx, Want(), "all", None, args.waves)
        planned = time.monotonic() - start
        moving = sum(len(w) for w in fp.waves)
        floor = rounds([len(w) for w in fp.waves], args.parallel)
        print(f"  waves of {[len(w) for w in fp.waves]} at --parallel {args.parallel}: {floor} deploys in a row, "
              f"so the fleet takes >= {floor}x one tenant's time unless a deploy is quicker in the fleet than alone",
              flush=True)
        done = apply_rollout(ctx, fp, "bench", args.parallel)
        wall = time.monotonic() - start
        registry = _count(metrics.REGISTRY_REQUESTS) - registry0
        engine = _count(metrics.ENGINE_CALLS) - engine0
        converged = sum(1 for r in done["results"] if r["outcome"] == "converged")
        ok = ok and done["outcome"] == "converged" and converged == moving == len(f.tenants) - 1
        print(f"  rollout: {moving} tenant(s) in {len(fp.waves)} wave(s), plan {planned:.2f} s, all {wall:.1f} s "
              f"({wall / max(moving, 1):.2f} s a tenant), {converged} converged; fleet / one tenant "
              f"{wall / single:.1f}x (target <= {TARGET_FLEET_X:g}x: "
              f"{'OK' if wall / single <= TARGET_FLEET_X else 'MISSED'})", flush=True)
        target = len(f.names) + len(f.names)
        print(f"  registry requests: plan {fp.registry_requests}, whole run {registry:.0f} (target {target}: "
              f"{len(f.names)} listings + {len(f.names)} chosen tags: "
              f"{'OK' if registry <= target else 'MISSED'}); Engine API calls {engine:.0f} "
              f"({engine / max(moving, 1):.1f} a tenant)", flush=True)
        reads = ctx.converger.shared_reads - reads0                               # type: ignore[attr-defined]
        looks = ctx.converger.shared_looks - looks0                               # type: ignore[attr-defined]
        print(f"  waits for convergence: {looks} looks at a tenant's stack served by {reads} reads of the wave's "
              f"stacks (2 Engine API calls a read, one read a poll round for the whole wave; "
              f"{looks / max(reads, 1):.1f} looks a read)", flush=True)

        # a release with one broken tenant in wave 2
        f.release("1.3.0", 1)
        ctx = ws.context()                                 # a fresh registry cache: it sees 1.3.0 (as a new CLI run)
        ordered = [s.tenant for w in plan_rollout(ctx, Want(), "all", None, args.waves).waves for s in w]
        broken = ordered[1]                               # the first tenant of wave 2
        _break(broken, first)
        fp2 = plan_rollout(ctx, Want(), "all", None, args.waves)
        results: list[TenantResult] = []
        try:
            done2 = apply_rollout(ctx, fp2, "bench", args.parallel, results.append)
        finally:      # the plain service is no stack's: `docker stack rm` would leave it
            subprocess.run(["docker", "service", "rm", f"{broken}_{first}"], capture_output=True, check=False)
        failed_at = next((r.finished for r in results if r.tenant == broken), None)
        # touched after the failure: any tenant whose deploy started once the broken one had failed
        started_after = [r.tenant for r in results if failed_at is not None and r.started > failed_at]
        print(f"  broken tenant {broken} (wave 2): outcome {done2['outcome']} at wave {done2['halted_at_wave']}; "
              f"deployed {len(done2['results'])}, untouched {len(done2['untouched'])}; tenants of later waves "
              f"touched: {len(started_after)} (target 0)", flush=True)
        ok = ok and done2["outcome"] == "halted" and done2["halted_at_wave"] == 2 and not started_after
        return ok, {"one tenant s": single, "rollout s": wall, "fleet / one tenant x": wall / single,
                    "plan registry requests": float(fp.registry_requests), "run registry requests": registry,
                    "engine calls per tenant": engine / max(moving, 1), "wait looks per read": looks / max(reads, 1),
                    "halted: later tenants touched": float(len(started_after))}
    return measure


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--waves", default="1,10%,100%")
    p.set_defaults(database="sqlite", behind=1)
    args = p.parse_args()
    return run(args, "ro", f", rollout waves {args.waves}, --parallel {args.parallel}", body(args),
               {"fleet / one tenant x": ("value", TARGET_FLEET_X)})


if __name__ == "__main__":
    sys.exit(main())
