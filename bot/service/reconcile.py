"""Reconcile deployments nobody finished judging (a killed or interrupted process) from what Swarm runs now."""

from __future__ import annotations

import json
import logging

from bot.domain.references import parse_reference
from bot.domain.running import ServiceReport, ServiceState
from bot.errors import ImageReferenceError
from bot.service.context import Context

log = logging.getLogger("tagpin.reconcile")
ACTOR = "tagpin (reconcile)"


def _targets(references: str) -> dict[str, str]:
    out = {}
    for name, ref in json.loads(references or "{}").items():
        try:
            digest = parse_reference(ref).digest
        except ImageReferenceError:
            digest = None
        out[name] = digest or ref
    return out


def _pinned(svc: ServiceState | None) -> str | None:
    return svc.spec.digest if svc is not None and svc.spec is not None else None


def _found(reports: tuple[ServiceReport, ...]) -> str:
    return "; ".join(f"{r.name}: {r.running}/{r.desired} on target ({r.state}{', ' + r.error if r.error else ''})"
                     for r in reports)


def reconcile(ctx: Context, tenant: str) -> list[str]:
    """Settle the tenant's unsettled deployments unless a deploy is working on the tenant right now. The newest
    one is judged against Swarm: every task on its digests → converged; a service failed or rolled back → failed,
    with the state found; still rolling → interrupted, judged again next time.
    Older ones were superseded. Returns what was said, one line per deployment."""
    store = ctx.store
    unsettled = store.unsettled(tenant)
    if not unsettled or store.live_lock(tenant) is not None:
        return []
    newest = store.latest_deployment(tenant)
    said = []
    for row in unsettled:
        assert row.id is not None
        if newest is not None and row.id != newest.id:
            outcome = "failed"
            message = f"superseded by deployment #{newest.id} before it was verified ({row.message or row.outcome})"
        else:
            targets = _targets(row.references)
            stack = ctx.swarm.stack(tenant)               # one look serves both questions below
            reports = ctx.converger.judge(tenant, targets, stack)
            # A service whose spec does not pin its target was never given it: the process died before (or while)
            # applying the stack. Swarm will never converge on it by itself.
            unapplied = sorted(name for name, digest in targets.items() if _pinned(stack.get(name)) != digest)
            if all(r.state == "converged" for r in reports):
                outcome = "converged"
                message = (f"verified later: every task runs its target digest (the deploy's process stopped "
                           f"before it could say; it was {row.outcome}: {row.message or 'no message'})")
            elif unapplied:
                outcome = "failed"
                message = (f"{'abandoned' if row.outcome == 'running' else 'interrupted'} before it was applied: "
                           f"Swarm's spec of {', '.join(unapplied)} does not pin its target (deploy again); Swarm "
                           f"runs: {_found(reports)}")
            elif any(r.state in ("failed", "rolled_back") for r in reports):
                outcome = "failed"
                message = (f"{'abandoned' if row.outcome == 'running' else 'interrupted'}: {row.actor}'s deploy "
                           f"stopped before finishing and Swarm did not converge: {_found(reports)}")
            elif row.outcome == "running":
                # Swarm is still rolling what the dead process applied: judged again by the next status/deploy.
                outcome = "interrupted"
                message = f"abandoned: {row.actor}'s deploy stopped before finishing; Swarm is at: {_found(reports)}"
            else:
                continue
        store.update_deployment(row.id, outcome=outcome, message=message)
        store.audit(ACTOR, "reconcile", tenant, outcome, {"was": row.outcome, "message": message},
                    deployment_id=row.id)
        log.info("deployment #%s of %s reconciled: %s", row.id, tenant, outcome)
        said.append(f"deployment #{row.id}: {outcome}: {message}")
    return said
