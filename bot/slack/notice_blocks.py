"""Block Kit for a drift notice (pure): what drifted, since when, and the Deploy now / Show plan / Snooze buttons."""

from __future__ import annotations

from typing import Any

from bot.service.rows import NoticeRow
from bot.slack.layout import Page, fallback, rest_of, split

DEPLOY_NOW = "tagpin_notice_deploy"
SHOW_PLAN = "tagpin_notice_plan"
SNOOZE = "tagpin_notice_snooze"
EMOJI = {"behind": ":arrow_up:", "tag_moved": ":warning:", "unpinned": ":rotating_light:",
         "partial_rollout": ":hourglass_flowing_sand:", "missing": ":x:", "outdated_client": ":hourglass:",
         "registry_limited": ":snail:", "scan_incomplete": ":grey_question:", "scaled_down": ":zero:"}


def title(n: NoticeRow) -> str:
    where = "registry" if n.tenant == "*" else f"{n.tenant} / {n.service}"
    if n.status == "resolved":
        how = f"by deployment #{n.resolved_by}" if n.resolved_by else "(no longer seen)"
        return f":white_check_mark: Resolved {how}: {where} was {n.kind.replace('_', ' ')}"
    return f"{EMOJI.get(n.kind, ':warning:')} {where}: {n.kind.replace('_', ' ')}"


def text(n: NoticeRow) -> str:
    """The plain-text fallback (notifications, screen readers, the local shell)."""
    return fallback(f"{title(n)} -- {n.detail}")


def blocks(n: NoticeRow) -> list[dict[str, Any]]:
    facts = [f"since {n.first_seen:%Y-%m-%d %H:%M} UTC"]
    if n.running:
        facts.append(f"running `{n.running}`")
    if n.target:
        facts.append(f"target `{n.target}`")
    if n.snoozed_until and n.status == "open":
        facts.append(f"snoozed until {n.snoozed_until:%Y-%m-%d %H:%M} UTC by {n.snoozed_by}")
    buttons: list[dict[str, Any]] = []
    if n.status == "open" and n.tenant != "*":
        value = f"{n.id}:{n.tenant}"
        buttons.append({"type": "actions", "block_id": f"notice-{n.id}", "elements": [
            {"type": "button", "action_id": DEPLOY_NOW, "text": {"type": "plain_text", "text": "Deploy now"},
             "style": "primary", "value": value},
            {"type": "button", "action_id": SHOW_PLAN, "text": {"type": "plain_text", "text": "Show plan"},
             "value": value},
            {"type": "button", "action_id": SNOOZE, "text": {"type": "plain_text", "text": "Snooze 24 h"},
             "value": value},
        ]})
    # The buttons keep their room; a detail or reference of any length is cut with a note saying so.
    page = Page(reserve=buttons)
    lines = [f"*{title(n)}*", *split(n.detail, 1000)]
    page.lines(lines, more=rest_of(lines))
    page.context(facts, more=lambda k: f"…and {k} more fact(s)")
    return page.done()


def metadata(n: NoticeRow) -> dict[str, Any]:
    return {"event_type": "tagpin_drift_notice",
            "event_payload": {"notice": n.id, "tenant": n.tenant, "service": n.service, "kind": n.kind,
                              "status": n.status, "running": n.running or "", "target": n.target or "",
                              "resolved_by": n.resolved_by or 0}}
