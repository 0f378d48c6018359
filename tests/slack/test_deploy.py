"""Deploys from Slack on the real Swarm and registry: progress in place, audit thread, confirmations, locks, outages."""

from __future__ import annotations

from typing import Any

from bot import metrics
from bot.service.deploy import Deployer
from bot.service.observe import Observer
from tests.e2e.conftest import Tenant
from tests.slack.harness import AUDIT, CHANNEL, Bot


def _trail(bot: Bot) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The audit channel's one parent message and its thread replies (every reply must be in that thread)."""
    calls = [c for c in bot.api.of("chat.postMessage") if c.params["channel"] == AUDIT]
    parents = [c for c in calls if "thread_ts" not in c.params]
    assert len(parents) == 1, [c.params["text"] for c in parents]
    ts = parents[0].reply["ts"] if isinstance(parents[0].reply, dict) else None
    replies = [c.params for c in calls if c.params.get("thread_ts")]
    assert all(r["thread_ts"] == ts for r in replies)
    assert all(c.params["metadata"]["event_type"] == "tagpin_audit" for c in calls)
    return parents[0].params, replies


def _steps(replies: list[dict[str, Any]]) -> list[str]:
    return [r["metadata"]["event_payload"]["step"] for r in replies]


def test_a_confirmed_deploy_updates_one_progress_message_and_writes_an_audit_thread(bot: Bot, tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    ack = bot.command("/deploy", tenant.name)
    assert ack.status_code == 200 and "Planning" in ack.json()["text"]
    bot.wait()
    plan = bot.responses()[-1]
    assert plan["response_type"] == "ephemeral" and "new tenant" in plan["text"]
    confirm = next(e for b in plan["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == "tagpin_confirm")
    assert confirm["confirm"]["confirm"]["text"] == "Deploy"           # Slack's own confirmation dialog

    assert bot.click("tagpin_confirm", bot.button()).status_code == 200
    bot.wait()
    (progress,) = [c for c in bot.api.of("chat.postMessage") if c.params["channel"] == CHANNEL]
    updates = bot.api.of("chat.update")
    assert len(updates) >= 4 and {u.params["ts"] for u in updates} == {progress.reply["ts"]}  # type: ignore[index]
    assert "converged" in updates[-1].params["text"]
    parent, replies = _trail(bot)
    assert parent["metadata"]["event_payload"]["actor"] == "UALICE (@alice)"
    steps = _steps(replies)
    assert steps[0] == "resolving" and steps[-1] == "converged"
    assert {"awaiting_confirmation", "confirmed", "applying", "verifying"} <= set(steps)
    assert next(e.outcome for e in bot.rt.ctx.store.events(tenant.name) if e.command == "deploy") == "converged"


def _registry_requests() -> float:
    return sum(sample.value for family in metrics.REGISTRY_REQUESTS.collect() for sample in family.samples
               if sample.name.endswith("_total"))


def test_a_confirmed_plan_is_deployed_as_shown_without_asking_the_registry_again(bot: Bot, tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    bot.command("/deploy", tenant.name)
    bot.wait()
    assert "1.10.0" in str(bot.responses()[-1]["blocks"])
    tenant.push("frontend", "1.11.0")                   # newer than what was shown: the click deploys what was shown
    before = _registry_requests()
    bot.click("tagpin_confirm", bot.button())
    bot.wait()
    assert _registry_requests() == before               # applied from the stored plan: no registry request at all
    assert "converged" in bot.api.of("chat.update")[-1].params["text"]
    specs = {s["name"]: s["spec_reference"] for s in Observer(tenant.fresh_context()).status(tenant.name)["services"]}
    assert ":1.10.0@sha256:" in specs["frontend"] and ":3.0.0@sha256:" in specs["backend"]
    _, replies = _trail(bot)
    assert any(r["text"].startswith("planned: the confirmed plan") for r in replies)


def test_confirmation_is_bound_to_the_plan_and_to_the_requester(bot: Bot, tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    bot.command("/deploy", tenant.name)
    bot.wait()
    first = bot.button()

    bot.click("tagpin_confirm", first, user="UCAROL")                  # a deployer, but not the requester
    bot.wait()
    assert "only <@UALICE>" in bot.responses()[-1]["text"]

    tenant.push("frontend", "1.11.0")                                   # the plan changes under the button:
    tenant.template.write_text(tenant.template.read_text().replace("replicas: 2", "replicas: 3"))  # re-made
    bot.click("tagpin_confirm", first)
    bot.wait()
    changed = bot.responses()[-1]
    assert "plan changed" in changed["blocks"][0]["text"]["text"] and "1.11.0" in str(changed["blocks"])
    assert tenant.fresh_context().swarm.stack(tenant.name) == {}        # nothing was deployed
    second = bot.button()
    assert second != first

    bot.click("tagpin_confirm", first)                                  # a used confirmation stays used
    bot.wait()
    assert "expired or was already used" in bot.responses()[-1]["text"]
    bot.click("tagpin_confirm", second)
    bot.wait()
    assert "converged" in bot.api.of("chat.update")[-1].params["text"]


def _onboard(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert result.outcome == "converged"
    tenant.push("frontend", "1.11.0")


def test_a_second_deploy_while_one_runs_gets_the_lock_holder_not_a_second_deploy(bot: Bot, tenant: Tenant) -> None:
    _onboard(tenant)
    store = bot.rt.ctx.store
    # The first deploy, as another process would hold it: deterministic, no race between two threads.
    token = store.acquire(tenant.name, "UALICE (@alice)", ttl=600, deployment_id=41)
    try:
        assert bot.command("/deploy", tenant.name, user="UCAROL").status_code == 200
        bot.wait()
    finally:
        store.release(tenant.name, token)
    held = [r["text"] for r in bot.responses() if "is being deployed by" in r["text"]]
    assert len(held) == 1
    assert f"{tenant.name} is being deployed by UALICE (@alice) since" in held[0] and "(deployment #41)" in held[0]
    outcomes = [e.outcome for e in store.events(tenant.name) if e.actor.startswith("UCAROL")]
    assert outcomes == ["refused"]
    assert len(store.converged(tenant.name, limit=5)) == 1        # only the onboarding deploy ever ran


def test_the_web_api_down_during_a_deploy_keeps_the_audit_rows_and_posts_them_later(bot: Bot, tenant: Tenant) -> None:
    _onboard(tenant)
    bot.api.down = True
    assert bot.command("/deploy", tenant.name).status_code == 200     # our endpoint answers; Slack's does not
    bot.wait()
    assert next(e.outcome for e in bot.rt.ctx.store.events(tenant.name)) == "converged"
    assert bot.posts(AUDIT) == []
    assert bot.rt.trail.outbox is not None
    pending = bot.rt.trail.outbox.pending(AUDIT)
    assert len(pending) >= 5 and all(p.attempts <= 1 for p in pending)

    bot.api.down = False
    assert bot.rt.trail.flush() == len(pending)
    parent, replies = _trail(bot)
    assert "/deploy" in parent["text"] and _steps(replies)[-1] == "converged"
    assert bot.rt.trail.outbox.pending(AUDIT) == []


def test_a_parked_plan_is_made_anew_when_a_hold_came_since(bot: Bot, tenant: Tenant) -> None:
    from bot.service import fleet

    tenant.push("frontend", "1.9.3")
    tenant.push("backend", "3.0.0")
    assert Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda p: True).outcome == "converged"
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "4.0.0")                     # a major jump: the plan waits for a click
    bot.command("/deploy", tenant.name)
    bot.wait()
    assert "→ 1.10.0" in str(bot.responses()[-1]["blocks"])
    first = bot.button()
    fleet.hold(tenant.fresh_context(), tenant.name, "frontend", "<1.10.0", "acme certifies 1.10 first", "bob")
    bot.click("tagpin_confirm", first)
    bot.wait()
    again = bot.responses()[-1]                          # shown again, within the hold, for a click of its own
    assert "→ 1.10.0" not in str(again["blocks"]) and "held at <1.10.0 by bob" in str(again["blocks"]), again
    specs = {s["name"]: s["spec_reference"] for s in Observer(tenant.fresh_context()).status(tenant.name)["services"]}
    assert ":1.9.3@sha256:" in specs["frontend"] and ":3.0.0@sha256:" in specs["backend"]   # nothing deployed
    assert bot.button() != first
