"""What the service hands Slack, the CLI and the shell: typed outcomes, typed progress events, typed JSON shapes.

The JSON shapes are DESIGN.md's contracts (`tagpin deploy --json` …); TypedDicts make mypy check every reader
(bot/slack/blocks.py, bot/cli/text.py) against them without changing one key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

from bot.domain.plans import PlanServiceJSON

Command = Literal["deploy", "rollback"]
# planned: a dry run. awaiting_confirmation: a risky plan parked for a human (a result, not an error).
# unrecorded: Swarm was given the stack but the database failed under the deploy (`tagpin status` settles it).
Outcome = Literal["planned", "awaiting_confirmation", "converged", "rolled_back", "failed", "refused",
                  "interrupted", "unrecorded"]
# The steps every listener sees, in order; "rolling back" only when verification timed out.
StepName = Literal["resolving", "planned", "applying", "verifying", "rolling back", "done"]
# Replies in the audit thread beside the steps: what happened to the command as a whole.
TrailStep = Literal["refused", "failed", "awaiting_confirmation", "confirmed", "cancelled", "converged",
                    "rolled_back", "interrupted", "planned"]


@dataclass(frozen=True)
class Event:
    """One progress event of a deploy or rollback: what step it reached and a line about it."""

    step: StepName
    detail: str


Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener of a caller that shows no progress."""


class VerificationJSON(TypedDict):
    name: str
    target: str
    running_digests: list[str]
    running: int
    desired: int
    state: str
    error: str | None


class DeployJSON(TypedDict):
    """`tagpin deploy|rollback --json` (DESIGN.md), and what Slack renders from."""

    tenant: str
    deployment_id: int | None
    outcome: Outcome
    services: list[PlanServiceJSON]
    risks: list[str]
    plan_digest: str | None
    compose: str
    message: str
    verification: list[VerificationJSON]
    seconds: float | None
    rolled_back_to: NotRequired[int]
    rolled_back_from: NotRequired[int]
