"""/deploy inside a freeze window, from Slack on the real Swarm: refused before anything is applied, naming the window
and its end (recorded); `--override-freeze --reason "…"` deploys and records the override; the parser refuses an
override without a reason."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain.times import utcnow
from bot.errors import UsageError
from bot.service.deploy import Deployer
from bot.slack.commands import parse
from tests.e2e.conftest import Tenant
from tests.e2e.fleet import fleet, frontends
from tests.slack.harness import running_bot


def test_slack_deploys_inside_a_freeze_are_refused_unless_overridden(tenant: Tenant) -> None:
    tenant.push("frontend", "1.4.0")
    tenant.push("backend", "3.0.0")
    assert Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda p: True).outcome \
        == "converged"
    tenant.push("frontend", "1.5.0")
    window = f"{(utcnow() - timedelta(hours=1)).isoformat()}/PT3H"
    with running_bot({**tenant.env, "TAGPIN_FREEZE": f"xmas={window}"}) as bot:
        assert bot.command("/deploy", tenant.name).status_code == 200
        bot.wait()
        said = bot.responses()[-1]["text"]
        assert f"is frozen: global freeze xmas ({window}, set in TAGPIN_FREEZE) until" in said, said
        assert "--override-freeze --reason" in said
        spec = tenant.ctx.swarm.stack(tenant.name)["frontend"].spec
        assert spec is not None and spec.tag == "1.4.0"
        assert bot.rt.ctx.store.events(tenant.name)[0].outcome == "refused"
        assert bot.command("/deploy", f'{tenant.name} --override-freeze --reason "hotfix INC-7"').status_code == 200
        bot.wait()
        spec = tenant.ctx.swarm.stack(tenant.name)["frontend"].spec
        assert spec is not None and spec.tag == "1.5.0", bot.responses()[-1]
        row = next(e for e in bot.rt.ctx.store.events(tenant.name) if e.outcome == "freeze_overridden")
        assert json.loads(row.detail)["reason"] == "hotfix INC-7" and "UALICE" in row.actor


@pytest.mark.parametrize(("text", "needle"), [
    ("acme --override-freeze", "--override-freeze needs --reason"),
    ("acme --reason why", "--reason goes with --override-freeze"),
    ('acme --override-freeze --reason " "', "a freeze needs --reason"),
])
def test_an_override_without_a_reason_is_a_usage_error(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse("/deploy", text)
    assert needle in str(raised.value)


def test_an_override_with_a_reason_is_parsed_and_the_reason_is_not_a_tenant() -> None:
    inv = parse("/deploy", 'acme frontend@1.5.0 --override-freeze --reason "hotfix INC-7"')
    assert (inv.tenant, inv.overrides, inv.override_freeze) == ("acme", {"frontend": "1.5.0"}, "hotfix INC-7")
    assert parse("/deploy", "acme").override_freeze is None


def test_slack_rollouts_inside_a_freeze_are_refused_unless_overridden(tenant: Tenant) -> None:
    window = f"{(utcnow() - timedelta(hours=1)).isoformat()}/PT3H"
    with fleet(tenant, "ab") as names, running_bot({**tenant.env, "TAGPIN_FREEZE": f"xmas={window}"}) as bot:
        tenant.push("frontend", "1.5.0")
        bot.command("/rollout", "frontend --waves 100%")
        bot.wait()
        said = bot.responses()[-1]["text"]
        assert "global freeze xmas" in said and "until" in said, said
        assert frontends(tenant, names) == ["1.4.0"] * 2
        bot.command("/rollout", 'frontend --waves 100% --override-freeze --reason "hotfix INC-8"')
        bot.wait()
        assert frontends(tenant, names) == ["1.5.0"] * 2, bot.responses()[-1]
        rows = [e for e in bot.rt.ctx.store.events() if e.outcome == "freeze_overridden"]
        assert {e.command for e in rows} >= {"rollout"}, rows
        assert all(json.loads(e.detail)["reason"] == "hotfix INC-8" for e in rows)
    assert parse("/rollout", 'frontend --override-freeze --reason "hotfix INC-8"').override_freeze == "hotfix INC-8"
    with pytest.raises(UsageError, match="--override-freeze needs --reason"):
        parse("/rollout", "frontend --override-freeze")
    with pytest.raises(UsageError, match="drop --override-freeze"):
        parse("/rollout", '--resume 3 --override-freeze --reason "x"')
