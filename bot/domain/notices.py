"""The drift-notice lifecycle: from the open notices and this scan's findings, decide what to post -- purely."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.domain.drift import Finding

Verb = Literal["post", "update", "remind", "resolve"]


@dataclass(frozen=True)
class Notice:
    """What the store remembers of one open notice; identity is (tenant, service, kind)."""

    id: int
    tenant: str
    service: str
    kind: str
    running: str | None
    target: str | None
    posted: bool                     # Slack accepted the message (a failed post is retried next scan)
    last_said: datetime              # when the channel was last told about it (post or reminder)
    snoozed_until: datetime | None = None
    stale: bool = False              # an in-place update is still owed to Slack

    def ident(self) -> tuple[str, str, str]:
        return (self.tenant, self.service, self.kind)


@dataclass(frozen=True)
class Action:
    verb: Verb
    finding: Finding | None          # None for resolve
    notice: Notice | None            # None for a brand-new post


def ident(finding: Finding) -> tuple[str, str, str]:
    return (finding.tenant, finding.service, finding.kind)


def plan(open_notices: Sequence[Notice], findings: Sequence[Finding], now: datetime,
         remind_every: timedelta, unjudged: Collection[tuple[str, str]] = ()) -> list[Action]:
    """One notice per (tenant, service, kind): new → post; moved digests → update in place; still true after
    `remind_every` (and not snoozed) → remind; gone → resolve. Nothing changed → nothing said.

    A notice of a (tenant, service) in `unjudged` -- this scan could not look at it -- is neither resolved nor
    reminded: not seeing drift is not the same as seeing none."""
    by_ident = {n.ident(): n for n in open_notices}
    seen: set[tuple[str, str, str]] = set()
    actions: list[Action] = []
    for finding in findings:
        key = ident(finding)
        if key in seen:
            continue
        seen.add(key)
        notice = by_ident.get(key)
        if notice is None:
            actions.append(Action("post", finding, None))
        elif not notice.posted:
            actions.append(Action("post", finding, notice))
        elif (notice.running, notice.target) != (finding.running, finding.target) or notice.stale:
            actions.append(Action("update", finding, notice))
        elif _reminder_due(notice, now, remind_every):
            actions.append(Action("remind", finding, notice))
    actions.extend(Action("resolve", None, n) for k, n in by_ident.items()
                   if k not in seen and (n.tenant, n.service) not in unjudged)
    return actions


def _reminder_due(notice: Notice, now: datetime, every: timedelta) -> bool:
    if notice.snoozed_until is not None and now < notice.snoozed_until:
        return False
    return now - notice.last_said >= every
