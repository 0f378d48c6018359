"""How a deploy or rollback is told: under the tenant's lease (renewed while it works) after reconciling what an
earlier process left, every step to the front end's listener and the audit thread, refusals recorded, metrics
counted, the outcome last."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot import metrics
from bot.errors import Interrupted, StoreError, TagpinError
from bot.service.applying import DeployOutcome, summary
from bot.service.context import Context
from bot.service.ports import Lease
from bot.service.progress import BoundedSteps, Say
from bot.service.reconcile import reconcile
from bot.service.results import Command, Event, Listener
from bot.service.trail import Thread, Trail

log = logging.getLogger("tagpin.deploy")


@dataclass(frozen=True)
class Telling:
    """One command's telling: who, what, on which tenant; `run` does the work inside it."""

    ctx: Context
    trail: Trail
    tenant: str
    actor: str
    command: Command

    def run(self, thread: Thread | None, listen: Listener, work: Callable[[Lease | None, Say], DeployOutcome],
            leased: bool) -> DeployOutcome:
        """The lease (renewed while working), reconciliation of what an earlier process left, every step told to
        the listener and the audit thread, refusals recorded, the outcome last."""
        store = self.ctx.store
        say = BoundedSteps(self._teller(listen, thread))
        lease: Lease | None = None
        started, outcome = time.monotonic(), "error"          # "error": a bug or a forced interrupt
        try:
            try:
                if leased:
                    lease = store.lease(self.tenant, self.actor, ttl=self.ctx.settings.lease_ttl)
                    reconcile(self.ctx, self.tenant)
                result = work(lease, say)
                outcome = result.outcome
            except StoreError:
                outcome = "unrecorded"      # the database failed: no audit can be written now; reconciling
                raise                       # settles the deployment from Swarm once it is back
            except TagpinError as exc:
                outcome = "interrupted" if isinstance(exc, Interrupted) else "refused"
                store.audit(self.actor, self.command, self.tenant, outcome,
                            {"error": str(exc), "kind": getattr(exc, "kind", type(exc).__name__)})
                raise
            finally:
                if lease is not None:
                    lease.release()
                say.close()                 # progress still queued goes out after the lease, in order
                metrics.DEPLOYS.labels(command=self.command, outcome=outcome).inc()
                metrics.DEPLOY_SECONDS.labels(command=self.command, outcome=outcome).observe(
                    time.monotonic() - started)
        except StoreError:
            raise                   # the audit thread is stored in the database too: nothing can be told now
        except TagpinError as exc:
            self.trail.step(thread, outcome, f"{outcome}: {exc}")
            raise
        except Exception as exc:
            self.trail.step(thread, "failed", f"failed: internal error ({type(exc).__name__})")
            raise
        self._last_reply(thread, result)
        return result

    def _teller(self, listen: Listener, thread: Thread | None) -> Listener:
        def tell(event: Event) -> None:
            try:
                listen(event)
            except Exception:
                log.exception("progress listener failed at step %s; the audit thread still gets it", event.step)
            if event.step != "done":            # the outcome reply says it, with the deployment id
                self.trail.step(thread, event.step, f"{event.step}: {event.detail}")
        return tell

    def _last_reply(self, thread: Thread | None, result: DeployOutcome) -> None:
        digest = result.plan.digest() if result.plan else None
        if result.replanned:
            self.trail.step(thread, "refused", "refused: the plan changed since it was confirmed, so nothing was "
                                               "deployed; the new plan is shown", plan_digest=digest)
        if result.outcome != "awaiting_confirmation":
            self.trail.step(thread, result.outcome, summary(result.as_dict()), deployment_id=result.deployment_id)
        elif result.confirm_id is not None:
            self.trail.step(thread, "awaiting_confirmation", f"needs confirmation: {'; '.join(result.plan.risks)}"
                            if result.plan else "needs confirmation", plan_digest=digest)
        else:
            self.trail.step(thread, "refused", f"not confirmed, so nothing was deployed: {result.message}",
                            plan_digest=digest)
