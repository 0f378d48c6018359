"""What the bot-process fault tests share: a tenant with an upgrade waiting, and the environment of a bot for it."""

from __future__ import annotations

from bot.service.applying import DeployOutcome
from bot.service.deploy import Deployer
from bot.slack.localapi import LocalSlackAPI
from tests.e2e.conftest import Tenant


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
