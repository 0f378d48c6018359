"""Which deployment a rollback returns to: the release line replayed, so a second rollback never undoes the first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.plans import Plan, make_plan
from bot.domain.references import parse_reference
from bot.domain.stacks import Pin, validate_rendered
from bot.errors import NotFound
from bot.service.context import Context
from bot.service.rows import DeploymentRow
from bot.service.targets import current_pins


def release_line(history: Sequence[DeploymentRow]) -> list[DeploymentRow]:
    """Replay converged deployments, oldest first: a deploy puts a release on the line, a rollback takes the
    newest off (that release was rolled away from). The last one on the line is what runs now."""
    line: list[DeploymentRow] = []
    for row in history:
        if row.command == "rollback":
            if len(line) > 1:
                line.pop()
        else:
            line.append(row)
    return line


@dataclass(frozen=True)
class RollbackPlan:
    running: DeploymentRow          # the release now running, rolled away from
    target: DeploymentRow           # the converged deployment before it, returned to
    plan: Plan
    compose: str
    pins: dict[str, Pin]

    def describe(self) -> str:
        when = self.target.started_at.strftime("%Y-%m-%d %H:%M UTC")
        to = ", ".join(f"{c.name} {c.to_tag}" for c in self.plan.services)
        return (f"back to deployment #{self.target.id} ({to}; deployed by {self.target.actor} at {when}), "
                f"away from #{self.running.id}")


def rollback_plan(ctx: Context, tenant: str) -> RollbackPlan:
    """The plan of going back to the release before the one running, exactly as it was rendered then."""
    line = release_line(ctx.store.history(tenant))
    if len(line) < 2:
        raise NotFound(f"{tenant} has no earlier converged deployment to roll back to"
                       + (f" (deployment #{line[0].id} is the first)" if line else ""))
    running, target = line[-1], line[-2]
    validate_rendered(target.compose)
    pins = {}
    for name, ref in json.loads(target.references).items():
        parsed = parse_reference(ref)
        pins[name] = Pin(parsed.tag or "", parsed.digest or "")
    plan = make_plan(tenant, False, ctx.template().services, current_pins(ctx, tenant), pins, rollback=True)
    return RollbackPlan(running, target, plan, target.compose, pins)
