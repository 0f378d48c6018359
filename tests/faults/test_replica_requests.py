"""Two `tagpin bot` processes on one store, one truth: a Slack re-send reaching the other process is acknowledged and
not redone, and a plan parked on one process is confirmed (once) or cancelled from the other."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import requests

from bot.adapters.confirmations import ConfirmationTable
from bot.adapters.seen import SeenRequest
from bot.adapters.store import Store
from bot.service.observe import Observer
from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers
from tests.e2e.conftest import Tenant
from tests.faults.bots import (
    answers,
    bot_env,
    button,
    click_body,
    deploy_body,
    deployments,
    eventually,
    send,
    upgrade_waiting,
)
from tests.support.processes import running_bots

SECRET = "replica-requests-secret-0123456789"
USED = "already used"                  # what a click on a plan that was confirmed or cancelled is told


def _at_once(*deliveries: tuple[int, str, dict[str, str]]) -> list[requests.Response]:
    with ThreadPoolExecutor(len(deliveries)) as pool:
        return list(pool.map(lambda d: send(*d), deliveries))


def test_a_resent_deploy_reaching_the_other_process_is_acknowledged_but_not_acted_on(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    first = upgrade_waiting(tenant)
    ctx, store = tenant.fresh_context(), Store(tenant.env["TAGPIN_DATABASE_URL"])
    body = deploy_body(slack, tenant.name, "resent")
    original = signed_headers(SECRET, body)
    with running_bots(bot_env(tenant, slack, SECRET), tmp_path) as (a, b):
        # Slack re-sends the same body (same trigger_id) signed afresh, with X-Slack-Retry-Num; here it arrives at
        # the other process while the first delivery is still being acknowledged.
        retried = signed_headers(SECRET, body, retry_num=1)
        acks = _at_once((a, body, original), (b, body, retried))
        acks += _at_once((b, body, original), (a, body, retried))     # exact replays, each on the other process
        assert [r.status_code for r in acks] == [200] * 4
        texts = sorted(r.text for r in acks)
        assert texts[:3] == [""] * 3 and "Planning the deploy" in texts[3], texts

        def deploys() -> list[str]:
            return [e.outcome for e in ctx.store.events(tenant.name) if e.command == "deploy"
                    and e.actor.startswith("UALICE")]
        eventually(lambda: "converged" in deploys(), deploys)
    # Both bots drained their work on SIGTERM: a re-send that had been acted on is recorded by now.
    assert deploys() == ["converged"]
    assert [r.outcome for r in deployments(store, tenant.name) if r.id != first.deployment_id] == ["converged"]
    progress = [c for c in slack.of("chat.postMessage") if c.params.get("channel") == "COPS"]
    assert len(progress) == 1 and f"Deploy of {tenant.name}" in progress[0].params["text"]
    trigger = parse_qs(body)["trigger_id"][0]
    with store.session() as s:
        assert s.get(SeenRequest, f"/deploy:{trigger}") is not None   # the one claim every process checked


def _park(tenant: Tenant, slack: LocalSlackAPI, port: int) -> tuple[str, str]:
    """A new tenant's /deploy on `port` waits for a Confirm: (the button's confirmation id, the shown plan)."""
    body = deploy_body(slack, tenant.name, "park")
    assert "Planning the deploy" in send(port, body, signed_headers(SECRET, body)).text
    confirm_id = eventually(lambda: button(slack, "tagpin_confirm"), lambda: answers(slack))
    parked = ConfirmationTable(Store(tenant.env["TAGPIN_DATABASE_URL"])).get(confirm_id)
    assert parked is not None, "the parked plan is not in the store"
    return confirm_id, str(parked["digest"])


def _click(slack: LocalSlackAPI, action: str, confirm_id: str, key: str) -> tuple[str, dict[str, str]]:
    body = click_body(slack, action, confirm_id, key)
    return body, signed_headers(SECRET, body)


def test_a_confirm_click_on_the_other_process_deploys_the_shown_plan_exactly_once(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")                     # a new tenant: its first deploy waits for a Confirm
    store = Store(tenant.env["TAGPIN_DATABASE_URL"])
    with running_bots(bot_env(tenant, slack, SECRET), tmp_path) as (a, b):
        confirm_id, shown = _park(tenant, slack, a)
        tenant.push("frontend", "1.11.0")               # newer than what was shown: the click deploys what was shown
        click = _click(slack, "tagpin_confirm", confirm_id, "confirm-on-b")
        assert send(b, *click).status_code == 200
        said = eventually(lambda: answers(slack)[1:], lambda: answers(slack))      # B's answer, after the plan
        assert "confirmed plan" in said[0]["text"], said
        # While B deploys: a double click on B, a click on A, and an exact replay of B's click on A, all at once.
        acks = _at_once((b, *_click(slack, "tagpin_confirm", confirm_id, "double-on-b")),
                        (a, *_click(slack, "tagpin_confirm", confirm_id, "again-on-a")), (a, *click))
        assert [r.status_code for r in acks] == [200] * 3
        eventually(lambda: [r.outcome for r in deployments(store, tenant.name)] == ["converged"]
                   and len(answers(slack, USED)) >= 2,
                   lambda: ([(r.outcome, r.message) for r in deployments(store, tenant.name)], answers(slack)))
    (row,) = deployments(store, tenant.name)
    assert row.outcome == "converged" and row.plan_digest == shown
    assert len(answers(slack, "confirmed plan")) == 1 and len(answers(slack, USED)) == 2   # the replay: silence
    status = Observer(tenant.fresh_context()).status(tenant.name)
    specs = {s["name"]: str(s["spec_reference"]) for s in status["services"]}
    assert ":1.10.0@sha256:" in specs["frontend"] and ":3.0.0@sha256:" in specs["backend"]
    assert ConfirmationTable(store).count() == 0


def test_cancel_on_the_other_process_deploys_nothing_and_a_later_confirm_is_told_it_was_used(
        tenant: Tenant, slack: LocalSlackAPI, tmp_path: Path) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    store = Store(tenant.env["TAGPIN_DATABASE_URL"])
    with running_bots(bot_env(tenant, slack, SECRET), tmp_path) as (a, b):
        confirm_id, _ = _park(tenant, slack, a)
        assert send(b, *_click(slack, "tagpin_cancel", confirm_id, "cancel-on-b")).status_code == 200
        said = eventually(lambda: answers(slack)[1:], lambda: answers(slack))      # B's answer, after the plan
        assert said[0]["text"] == f":no_entry_sign: Cancelled; {tenant.name} was not deployed.", said
        assert send(a, *_click(slack, "tagpin_confirm", confirm_id, "confirm-on-a")).status_code == 200
        eventually(lambda: answers(slack, USED), lambda: answers(slack))
    assert len(answers(slack, "Cancelled")) == 1 and len(answers(slack, USED)) == 1
    assert deployments(store, tenant.name) == [] and tenant.fresh_context().swarm.stack(tenant.name) == {}
    outcomes = [e.outcome for e in tenant.fresh_context().store.events(tenant.name) if e.actor.startswith("UALICE")]
    assert sorted(outcomes) == ["awaiting_confirmation", "cancelled"], outcomes
