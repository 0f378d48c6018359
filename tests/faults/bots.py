"""What the bot-process fault tests share: a tenant with an upgrade waiting, the environment of a bot for it, and
Slack's side of the conversation (signed requests to a bot's port, what came back through response URLs)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from sqlmodel import col, select

from bot.adapters.models import Deployment
from bot.adapters.store import Store
from bot.service.applying import DeployOutcome
from bot.service.deploy import Deployer
from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import action_body, slash_body
from tests.e2e.conftest import Tenant

T = TypeVar("T")


def upgrade_waiting(tenant: Tenant) -> DeployOutcome:
    """The tenant runs frontend 1.9.3 (converged, returned), and 1.9.4 is pushed: a /deploy needs no confirmation."""
    tenant.push("frontend", "1.9.3")
    tenant.push("backend", "3.0.0")
    first = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert first.outcome == "converged", first.message
    tenant.push("frontend", "1.9.4")
    return first


def bot_env(tenant: Tenant, slack: LocalSlackAPI, secret: str) -> dict[str, str]:
    """A `tagpin bot` on the tenant's store, talking to the local Slack stand-in; UALICE may deploy."""
    return {**tenant.env, "TAGPIN_SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-local",
            "SLACK_SIGNING_SECRET": secret, "TAGPIN_DEPLOYERS": "UALICE", "TAGPIN_AUDIT_CHANNEL": "CAUDIT"}


def deploy_body(slack: LocalSlackAPI, tenant: str, key: str) -> str:
    """/deploy TENANT by UALICE in COPS, answered through the stand-in's response URL `key`."""
    return slash_body("/deploy", tenant, user_id="UALICE", user_name="alice", channel_id="COPS",
                      response_url=slack.response_url(key))


def click_body(slack: LocalSlackAPI, action_id: str, value: str, key: str) -> str:
    """UALICE clicking a button (a new trigger_id each time, as each real click has)."""
    return action_body(action_id=action_id, value=value, user_id="UALICE", user_name="alice", channel_id="COPS",
                       response_url=slack.response_url(key))


def send(port: int, body: str, headers: Mapping[str, str]) -> requests.Response:
    """One request to a bot's /slack/events, as Slack delivers it."""
    return requests.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=dict(headers),
                         timeout=10)


def answers(slack: LocalSlackAPI, words: str = "") -> list[dict[str, Any]]:
    """What the bots said through response URLs (oldest first), those whose text has `words`."""
    return [c.params for c in slack.of("response_url") if words in str(c.params.get("text", ""))]


def button(slack: LocalSlackAPI, action_id: str) -> str | None:
    """The value of the newest button with that action id in any response, None before one came."""
    for params in reversed(answers(slack)):
        for block in params.get("blocks") or []:
            for element in block.get("elements", []):
                if element.get("action_id") == action_id:
                    return str(element["value"])
    return None


def eventually(probe: Callable[[], T | None], what: Callable[[], object], timeout: float = 180) -> T:
    """Poll `probe` until it gives something (not None, False or empty); fail with `what()` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, what()
        time.sleep(0.2)
    return found


def deployments(store: Store, tenant: str) -> list[Deployment]:
    """Every deployment row of the tenant, whatever its outcome, oldest first."""
    with store.session() as s:
        return list(s.exec(select(Deployment).where(Deployment.tenant == tenant).order_by(col(Deployment.id))))
