"""An override refused in Slack is worded for Slack: the service and tag, never the CLI's `--set SERVICE=TAG`."""

from __future__ import annotations

from bot.service.deploy import Deployer
from tests.e2e.conftest import Tenant
from tests.slack.harness import Bot


def _refusal(bot: Bot, text: str) -> str:
    bot.command("/deploy", text)
    bot.wait()
    reply = bot.responses()[-1]
    assert reply["response_type"] == "ephemeral"
    shown = " ".join([reply["text"], *(str(block) for block in reply.get("blocks") or [])])
    assert "--set" not in shown and "=" not in reply["text"], shown
    assert "Nothing was changed." in shown                   # failures.HINTS for a UsageError
    return str(reply["text"])


def test_overrides_refused_in_slack_name_the_service_and_tag_without_cli_syntax(bot: Bot, tenant: Tenant) -> None:
    tenant.push("frontend", "1.9.0")
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    done = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert done.as_dict()["outcome"] == "converged"

    below = _refusal(bot, f"{tenant.name} frontend@1.9.0")
    assert "cannot pin frontend to 1.9.0: it is below the running 1.10.0; add --allow-downgrade" in below
    floating = _refusal(bot, f"{tenant.name} frontend@latest")
    assert "cannot pin frontend to latest: floating tag, not a version" in floating
    unknown = _refusal(bot, f"{tenant.name} nosuch@1.0.0")
    assert "cannot pin nosuch to 1.0.0: the stack has no service 'nosuch' (services: backend, frontend)" in unknown
    ctx = tenant.fresh_context()
    latest = ctx.store.latest_deployment(tenant.name)
    assert latest is not None and latest.id == done.as_dict()["deployment_id"]    # the refusals deployed nothing
    deploys = [e for e in ctx.store.events(tenant.name) if e.command == "deploy"]
    assert [e.outcome for e in deploys[:3]] == ["refused"] * 3 and "cannot pin nosuch" in deploys[0].detail
