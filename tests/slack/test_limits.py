"""Every Block Kit builder in bot/slack, at sizes real fleets reach, held against Slack's limits (bot/slack/limits)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from bot.domain.plans import Flag, Plan, ServiceChange
from bot.errors import RegistryUnavailable, UsageError
from bot.slack import blocks, failures, limits, notice_blocks, plan_blocks, rollout_blocks
from bot.slack.commands import help_text
from bot.slack.failures import translate

D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64
REPO = "registry.example.com/acme-corporation/services"


def _change(i: int, kind: str) -> ServiceChange:
    name = f"service-{i:03d}"
    table: dict[str, tuple[str, str, set[Flag]]] = {
        "unchanged": ("1.4.0", "1.4.0", {"unchanged"}), "upgrade": ("1.4.0", "1.5.0", {"upgrade"}),
        "major": ("1.4.0", "2.0.0", {"upgrade", "major_jump"}), "downgrade": ("1.5.0", "1.4.0", {"downgrade"}),
        "moved": ("1.4.0", "1.4.0", {"tag_moved"})}
    before, after, flags = table[kind]
    return ServiceChange(name, before, D1, after, D2, frozenset(flags), f"{REPO}/{name}:{after}@{D2}",
                         f"{REPO}/{name}:{before}@{D1}")


def _plan(n: int, risky_every: int = 0, new_tenant: bool = False) -> dict[str, Any]:
    kinds = ["major", "downgrade", "moved"]
    changes = [_change(i, kinds[i % 3] if risky_every and i % risky_every == 0 else
                       ("upgrade" if i % 2 else "unchanged")) for i in range(n)]
    return Plan("acme", new_tenant, tuple(changes), ("old-worker",)).as_dict()


def _text_above_buttons(message: dict[str, Any]) -> str:
    out = []
    for block in message["blocks"]:
        if block["type"] == "actions":
            break
        out += [block["text"]["text"]] if block["type"] == "section" else [e["text"] for e in block["elements"]]
    return "\n".join(out)


@dataclass
class FakeNotice:                     # the NoticeLike protocol, as the store's row carries it
    id: int | None = 7
    channel: str = "CDRIFT"
    ts: str | None = "1.2"
    tenant: str = "acme"
    service: str = "frontend"
    kind: str = "behind"
    running: str | None = f"{REPO}/frontend:1.4.0@{D1}"
    target: str | None = f"{REPO}/frontend:1.5.0@{D2}"
    detail: str = "frontend runs 1.4.0; 1.5.0 is the newest allowed"
    status: str = "open"
    first_seen: datetime = datetime(2025, 1, 2, 3, 4)
    reminders: int = 0
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    resolved_by: int | None = None


NOTE = "registry 127.0.0.1:5000 did not answer for acme/frontend: " + "connection refused; " * 8


def _drift(findings: int, notes: list[str], complete: bool = False) -> dict[str, Any]:
    kinds = ["behind", "unknown", "tag_moved", "unpinned"]
    return {"tenants": [f"tenant-{i}" for i in range(40)], "complete": complete, "unknown": findings // 4,
            "findings": [{"tenant": f"tenant-{i % 40}", "service": f"service-{i}", "kind": kinds[i % 4],
                          "running": None, "target": None, "detail": f"service-{i} runs 1.4.0; " + "x" * 60}
                         for i in range(findings)],
            "registry_notes": notes, "watcher_scan_at": "2025-01-02T03:04:05"}


def _status(n: int) -> dict[str, Any]:
    return {"tenant": "acme", "complete": False, "unknown": n // 3, "services": [
        {"name": f"service-{i:03d}", "image": REPO, "spec_reference": f"{REPO}/s{i}:1.4.0@{D1}",
         "running_digests": [D1], "replicas": {"running": 1, "desired": 2}, "available": {"tag": "1.5.0"},
         "registry_note": NOTE if i % 3 == 0 else None,
         "drift": [{"kind": "unknown" if i % 3 == 0 else "behind"}] if i % 2 == 0 or i % 3 == 0 else []}
        for i in range(n)]}


def _event(i: int) -> dict[str, Any]:
    return {"id": i, "at": "2025-01-02T03:04:05", "actor": "U0123456789 (@a-rather-long-handle)",
            "command": "deploy", "tenant": f"tenant-{i}", "outcome": "converged", "detail": {}}


def _notice(n: FakeNotice) -> Callable[[], dict[str, Any]]:
    return lambda: {"text": notice_blocks.text(n), "blocks": notice_blocks.blocks(n)}


def _fleet(tenants: int, risky_every: int = 0, skipped: int = 0) -> dict[str, Any]:
    """A FleetPlan.as_dict() of `tenants` tenants in 3 waves (1, 10%, the rest), a risk on every risky_every-th."""
    def step(i: int) -> dict[str, Any]:
        major = bool(risky_every) and i % risky_every == 0
        return {"tenant": f"tenant-{i:03d}-of-a-long-customer-name", "risks": ["frontend: major jump"] if major else [],
                "changes": [{"service": f"service-{k}", "from": f"{REPO}/s{k}:1.4.0@{D1}",
                             "to": f"{REPO}/s{k}:{'2.0.0' if major else '1.5.0'}@{D2}", "flags": ["upgrade"]}
                            for k in range(5)], "held": [], "plan_digest": D2}
    ends = sorted({1, max(1, tenants // 10), tenants})
    waves = [{"wave": n, "tenants": [step(i) for i in range(a, b)]}
             for n, (a, b) in enumerate(zip([0, *ends], ends, strict=False), 1)]
    risks = [f"{t['tenant']}: {r}" for w in waves for t in w["tenants"] for r in t["risks"]]
    return {"services": "all", "wave_spec": "1,10%,100%", "waves": waves, "risks": risks, "risky": bool(risks),
            "skipped": [{"tenant": f"held-{i}", "skipped": "held: frontend held at <1.5.0 by bob: " + "x" * 80}
                        for i in range(skipped)], "digest": D2[7:], "registry_requests": 10}


def _board(tenants: int, failed_every: int = 0, final: str | None = None) -> dict[str, Any]:
    names = [f"tenant-{i:03d}" for i in range(tenants)]
    ends = sorted({1, max(1, tenants // 10), tenants})
    waves = [names[a:b] for a, b in zip([0, *ends], ends, strict=False)]
    states = {t: (("rolled_back", LONG[:400]) if failed_every and i % failed_every == 0 else ("converged", ""))
              for i, t in enumerate(names)}
    return rollout_blocks.board("Rollout #12 of every service by <@U1>", waves, states, final)


LONG = "the registry said: " + "service unavailable, retry later " * 600     # about 20,000 characters
BUILDERS: dict[str, list[Callable[[], Any]]] = {
    "plan_blocks.plan": [
             lambda: blocks.plan(_plan(1)), lambda: blocks.plan(_plan(1, risky_every=1), confirm_id="t" * 40),
             lambda: blocks.plan(_plan(60, risky_every=7), confirm_id="tok"),
             lambda: blocks.plan(_plan(60, new_tenant=True), confirm_id="tok", notice="Dry run: nothing applied."),
             lambda: blocks.plan(_plan(500, risky_every=50), confirm_id="tok"),
             lambda: blocks.plan(_plan(500, risky_every=1), confirm_id="tok"), lambda: blocks.plan(_plan(500))],
    "blocks.drift": [lambda: blocks.drift(_drift(1000, [NOTE] * 40 + [LONG])), lambda: blocks.drift(_drift(1, [])),
              lambda: blocks.drift(_drift(0, [], complete=True)), lambda: blocks.drift(_drift(0, [LONG]))],
    "blocks.status": [lambda: blocks.status(_status(60)), lambda: blocks.status(_status(1))],
    "blocks.audit": [lambda: blocks.audit([_event(i) for i in range(50)], None), lambda: blocks.audit([], "acme"),
              lambda: blocks.audit([_event(i) for i in range(100)], "acme")],
    "blocks.error": [lambda: blocks.error(LONG, "Nothing was changed."), lambda: blocks.error("short")],
    "failures.translate": [lambda: translate(UsageError(LONG)), lambda: translate(RegistryUnavailable(LONG)),
                           lambda: translate(RuntimeError(LONG))],
    "blocks.text": [lambda: blocks.text(help_text()), lambda: blocks.text(LONG),
                    lambda: blocks.text("\n".join([LONG] * 3))],
    "blocks.progress": [lambda: blocks.progress("Deploy of acme by <@U1>", ["resolving"], LONG),
                 lambda: blocks.progress("Deploy of acme", ["resolving", "applying"], "", final=LONG)],
    "rollout_blocks.fleet_plan": [
        lambda: rollout_blocks.fleet_plan(_fleet(1)), lambda: rollout_blocks.fleet_plan(_fleet(0, skipped=3)),
        lambda: rollout_blocks.fleet_plan(_fleet(100, risky_every=10, skipped=40), confirm_id="tok"),
        lambda: rollout_blocks.fleet_plan(_fleet(1000, risky_every=1, skipped=200), confirm_id="tok"),
        lambda: rollout_blocks.fleet_plan(_fleet(1000), notice="Dry run: nothing applied.")],
    "rollout_blocks.board": [lambda: _board(1), lambda: _board(100, final=LONG), lambda: _board(1000, failed_every=1),
                             lambda: _board(1000, failed_every=7, final=":red_circle: *halted at wave 2*")],
    "notice_blocks.blocks": [_notice(n) for n in [
        FakeNotice(), FakeNotice(detail=LONG, running=LONG[:2000]), FakeNotice(status="resolved", resolved_by=4),
        FakeNotice(tenant="*", service="registry", kind="registry_limited"),
        FakeNotice(snoozed_until=datetime(2025, 1, 3), snoozed_by="U1 (@alice)")]],
}
# Pieces of messages (strings, a predicate), not messages: the messages they go into are held above.
NOT_BUILDERS = {"plan_blocks.offers_confirm", "plan_blocks.tag", "plan_blocks.buttons", "plan_blocks.risks_first",
                "notice_blocks.title",
                "notice_blocks.text", "notice_blocks.metadata", "failures.hint_for"}


def test_every_builder_in_bot_slack_is_held_against_the_limits() -> None:
    """A new builder fails here until it joins BUILDERS (or NOT_BUILDERS, when it builds no message)."""
    public = {f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
              for module in (blocks, notice_blocks, plan_blocks, rollout_blocks, failures)
              for name, f in inspect.getmembers(module, inspect.isfunction)
              if not name.startswith("_") and f.__module__ == module.__name__}
    assert public - NOT_BUILDERS == set(BUILDERS)


@pytest.mark.parametrize("build", [b for group in BUILDERS.values() for b in group])
def test_each_message_is_within_slack_limits(build: Callable[[], Any]) -> None:
    assert limits.message_violations(build()) == []


def test_a_risky_fleet_plan_shows_every_risk_above_its_confirm_button_or_offers_none() -> None:
    data = _fleet(100, risky_every=10, skipped=40)
    message = rollout_blocks.fleet_plan(data, confirm_id="tok")
    assert blocks.offers_confirm(message) and len(data["risks"]) == 10
    assert all(risk in _text_above_buttons(message) for risk in data["risks"])
    crowded = rollout_blocks.fleet_plan(_fleet(1000, risky_every=1), confirm_id="tok")     # 1,000 risks
    assert not blocks.offers_confirm(crowded) and "No Confirm button" in str(crowded["blocks"])


def test_a_risky_60_service_plan_shows_every_service_above_the_confirm_button() -> None:
    data = _plan(60, risky_every=7)
    message = blocks.plan(data, confirm_id="tok")
    above = _text_above_buttons(message)
    assert blocks.offers_confirm(message)
    assert all(risk in above for risk in data["risks"]) and len(data["risks"]) == 9
    assert all(f"`service-{i:03d}`" in above for i in range(60))         # was 34 of 60, then "…(truncated)"
    assert "`old-worker`" in above and "truncated" not in above


def test_a_500_service_plan_keeps_its_risks_and_counts_what_it_leaves_out() -> None:
    data = _plan(500, risky_every=50)
    message = blocks.plan(data, confirm_id="tok")
    above = _text_above_buttons(message)
    assert blocks.offers_confirm(message)
    assert all(risk in above for risk in data["risks"])
    assert all(f"`service-{i:03d}`" in above for i in range(0, 500, 50))    # every risky service
    shown = sum(f"`service-{i:03d}`" in above for i in range(500))
    assert f"…and {500 + 1 - shown} more service(s) without risks (" in above
    assert "`tagpin deploy acme --dry-run`" in above


def test_no_confirm_button_when_the_risks_do_not_fit() -> None:
    data = _plan(500, risky_every=1)
    message = blocks.plan(data, confirm_id="tok")
    assert not blocks.offers_confirm(message)
    assert not any(e.get("action_id") == "tagpin_confirm" for b in message["blocks"] for e in b.get("elements", []))
    text = _text_above_buttons(message)
    assert "*No Confirm button*" in text and "`tagpin deploy acme --yes`" in text and "more risk line(s)" in text


def test_drift_during_a_registry_outage_says_incomplete_and_counts_every_finding() -> None:
    message = blocks.drift(_drift(1000, [NOTE] * 40 + [LONG]))
    shown = "\n".join(_text_above_buttons(message).splitlines())
    assert "*1000 finding(s)* in 40 tenant(s): 250 behind, 250 unknown, 250 tag_moved, 250 unpinned" in shown
    assert "Incomplete: 250 service(s) could not be judged" in shown
    assert "more finding(s) (" in shown and "more registry note(s)" in shown
    context = [b for b in message["blocks"] if b["type"] == "context"]
    assert len(context) == 1 and len(context[0]["elements"]) <= 10
    assert not blocks.drift(_drift(0, [NOTE]))["text"].startswith(":large_green_circle:")


def test_status_lists_drifted_services_first_and_counts_the_rest() -> None:
    message = blocks.status(_status(60))
    text = _text_above_buttons(message)
    assert text.startswith(":large_yellow_circle: *Status of `acme`* · 60 service(s):")
    assert "Incomplete: 20 service(s) could not be judged" in text and f"registry: {NOTE}" in text
    listed = [line.rsplit(" · ", 1)[-1] for line in text.splitlines() if line.startswith("• ")]
    fine = [kinds == "ok" for kinds in listed]
    assert fine[0] is False and fine == sorted(fine), listed          # every drifted service before any fine one


@pytest.mark.parametrize(("bad", "says"), [
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "3001 characters, 1 to 3000"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "0 characters, 1 to 3000"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}], "11 items, 1 to 10"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}], "2001 characters, 1 to 2000"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "11 items, 1 to 10"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 6765}]}], "6765 characters"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "151 characters, 1 to 150"),
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "not a plain_text text object"),
    ([{"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": "v",
                                        "text": {"type": "plain_text", "text": "x" * 76}}]}], "76 characters"),
    ([{"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": "v" * 2001,
                                        "text": {"type": "plain_text", "text": "x"}}]}], "value of 2001"),
    ([{"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {
        "type": "plain_text", "text": "x"}, "confirm": {"title": {"type": "plain_text", "text": "t"}, "text": {
            "type": "mrkdwn", "text": "x" * 301}, "confirm": {"type": "plain_text", "text": "y"},
        "deny": {"type": "plain_text", "text": "n"}}}]}], "confirm text: 301 characters"),
    ([{"type": "divider"}] * 51, "51 blocks, at most 50"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 5, "15000 characters of text, at most"),
    ([{"type": "table"}], "a block type this checker does not know"),
])
def test_the_checker_catches_each_limit(bad: list[dict[str, Any]], says: str) -> None:
    found = limits.violations(bad)
    assert any(says in line for line in found), found


def test_the_checker_agrees_with_slack_sdk_where_the_sdk_checks() -> None:
    """slack_sdk's models know some of the same limits (one object at a time): they must reject the same blocks."""
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    for bad in ({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11},
                {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}):
        parsed = Block.parse(bad)
        assert parsed is not None
        with pytest.raises(SlackObjectFormationError):
            parsed.validate_json()
        assert limits.violations([bad])


def test_status_names_the_nodes_where_a_service_is_in_trouble() -> None:
    data = _status(2)
    task = {"availability": "active", "desired": "running", "digest": D1, "error": None}
    data["services"][0]["tasks"] = [
        {**task, "node": "lab-manager", "node_state": "ready", "state": "running"},
        {**task, "node": "lab-worker1", "node_state": "ready", "state": "rejected", "error": "No such image: x"},
        {**task, "node": "lab-worker2", "node_state": "down", "state": "assigned"}]
    lines = [line for line in _text_above_buttons(blocks.status(data)).splitlines() if "service-000" in line]
    assert lines and " · nodes: lab-worker2 down; lab-worker1: No such image: x · " in lines[0], lines
    assert "lab-manager" not in lines[0]
