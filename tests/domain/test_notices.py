"""The notice lifecycle table: post once, update in place, remind at the cadence unless snoozed, resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.drift import Finding
from bot.domain.notices import Notice, plan

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def finding(kind: str = "behind", running: str = "r1", target: str = "t1", service: str = "web") -> Finding:
    return Finding("acme", service, kind, running, target, "detail")  # type: ignore[arg-type]


def notice(**kw: object) -> Notice:
    base: dict[str, object] = dict(id=1, tenant="acme", service="web", kind="behind", running="r1", target="t1",
                                   posted=True, last_said=NOW - HOUR)
    base.update(kw)
    return Notice(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("notices", "findings", "expected"), [
    ([], [finding()], ["post"]),                                            # new drift: one post
    ([], [finding(), finding()], ["post"]),                                 # duplicates in one scan: one post
    ([notice()], [finding()], []),                                          # unchanged: silence
    ([notice()], [finding(target="t2")], ["update"]),                       # a newer target: edit in place
    ([notice()], [finding(running="r2")], ["update"]),                      # running moved: edit in place
    ([notice(stale=True)], [finding()], ["update"]),                        # an owed edit is retried
    ([notice(posted=False)], [finding()], ["post"]),                        # a failed post is retried
    ([notice(last_said=NOW - 5 * HOUR)], [finding()], ["remind"]),          # still true after the cadence
    ([notice(last_said=NOW - 5 * HOUR, snoozed_until=NOW + HOUR)], [finding()], []),   # snoozed
    ([notice(last_said=NOW - 5 * HOUR, snoozed_until=NOW - HOUR)], [finding()], ["remind"]),  # snooze over
    ([notice()], [], ["resolve"]),                                          # gone: resolved
    ([notice()], [finding(kind="tag_moved")], ["post", "resolve"]),         # another kind is another notice
    ([notice()], [finding(service="db")], ["post", "resolve"]),
])
def test_plan(notices: list[Notice], findings: list[Finding], expected: list[str]) -> None:
    assert [a.verb for a in plan(notices, findings, NOW, remind_every=4 * HOUR)] == expected


def test_actions_carry_the_notice_they_act_on() -> None:
    old = notice(id=7)
    (update,) = plan([old], [finding(target="t2")], NOW, 4 * HOUR)
    assert update.notice is old and update.finding is not None and update.finding.target == "t2"
    (resolve,) = plan([old], [], NOW, 4 * HOUR)
    assert resolve.notice is old and resolve.finding is None


def test_a_service_the_scan_could_not_judge_keeps_its_notice_open() -> None:
    open_notice = notice()
    assert [a.verb for a in plan([open_notice], [], NOW, timedelta(hours=4))] == ["resolve"]
    kept = plan([open_notice], [], NOW, timedelta(hours=4), unjudged={(open_notice.tenant, open_notice.service)})
    assert kept == []
