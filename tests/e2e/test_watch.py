"""The drift watcher on the real Swarm and registry, posting to the local Slack Web API stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.adapters.registry import RegistryClient
from bot.config import Settings
from bot.service.deploy import Deployer
from bot.service.watching import Watcher
from bot.slack.app import web_client
from bot.slack.localapi import LocalSlackAPI
from bot.slack.notifier import SlackNotifier
from bot.watch import make_watcher
from tests.e2e.conftest import Tenant
from tests.support.fake_registry import FakeRegistry, json_reply

CHANNEL = "CDRIFT"


@pytest.fixture
def slack() -> Iterator[LocalSlackAPI]:
    with LocalSlackAPI() as api:
        yield api


def watcher(tenant: Tenant, slack: LocalSlackAPI, **env: str) -> Watcher:
    """A new watcher process, as after a restart: fresh context, same database."""
    tenant.env.update({"TAGPIN_DRIFT_CHANNEL": CHANNEL, "SLACK_BOT_TOKEN": "xoxb-local",
                       "TAGPIN_SLACK_API_URL": slack.url, **env})
    ctx = tenant.fresh_context()
    return make_watcher(ctx, web_client(slack.url, "xoxb-local", backoff=0.01))


def posts(slack: LocalSlackAPI) -> list[dict[str, Any]]:
    return [c.params for c in slack.of("chat.postMessage")]


def payload(params: dict[str, Any]) -> dict[str, Any]:
    meta = params["metadata"]
    return (json.loads(meta) if isinstance(meta, str) else meta)["event_payload"]  # type: ignore[no-any-return]


def deploy(tenant: Tenant) -> int:
    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert result.outcome == "converged", result.message
    assert result.deployment_id is not None
    return result.deployment_id


def test_a_release_is_noticed_once_then_resolved_by_the_deploy_and_a_restart_does_not_repost(
        tenant: Tenant, slack: LocalSlackAPI) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    deploy(tenant)
    assert watcher(tenant, slack).scan_once().said == []

    tenant.push("frontend", "1.11.0")
    first = watcher(tenant, slack).scan_once()
    assert [(s["verb"], s["service"], s["kind"]) for s in first.said] == [("post", "frontend", "behind")]
    assert len(posts(slack)) == 1
    notice = posts(slack)[0]
    assert notice["channel"] == CHANNEL and "1.11.0" in notice["text"]
    assert payload(notice)["kind"] == "behind" and payload(notice)["status"] == "open"
    actions = json.loads(notice["blocks"]) if isinstance(notice["blocks"], str) else notice["blocks"]
    assert [e["text"]["text"] for e in actions[-1]["elements"]] == ["Deploy now", "Show plan", "Snooze 24 h"]

    assert watcher(tenant, slack).scan_once().said == []           # a second scan: nothing new to say
    assert watcher(tenant, slack).scan_once().said == []           # a restarted watcher neither re-posts
    assert len(posts(slack)) == 1 and slack.of("chat.update") == []

    fixed_by = deploy(tenant)
    resolved = watcher(tenant, slack).scan_once()
    assert [(s["verb"], s["resolved_by"]) for s in resolved.said] == [("resolve", fixed_by)]
    update = slack.of("chat.update")[-1].params
    assert update["ts"] == slack.of("chat.postMessage")[0].reply["ts"]  # type: ignore[index]
    assert f"Resolved by deployment #{fixed_by}" in update["text"]
    assert len(posts(slack)) == 1
    assert watcher(tenant, slack).scan_once().said == []


def test_a_repushed_tag_is_a_tag_moved_notice(tenant: Tenant, slack: LocalSlackAPI) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    deploy(tenant)
    tenant.push("backend", "3.0.0", "same tag, other content")
    report = watcher(tenant, slack).scan_once()
    assert [(s["service"], s["kind"]) for s in report.said] == [("backend", "tag_moved")]


def test_a_failed_post_is_kept_and_retried_next_scan(tenant: Tenant, slack: LocalSlackAPI) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    deploy(tenant)
    tenant.push("frontend", "1.11.0")
    slack.fail("chat.postMessage", status=500, times=10)
    report = watcher(tenant, slack).scan_once()
    assert report.said == [] and len(report.failed) == 1
    slack._faults.clear()
    retried = watcher(tenant, slack).scan_once()
    assert [(s["verb"], s["kind"]) for s in retried.said] == [("post", "behind")]
    assert len(posts(slack)) == 1


def test_users_on_an_old_frontend_build_are_an_outdated_client_notice(tenant: Tenant, slack: LocalSlackAPI) -> None:
    from recovery import create_app

    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    deploy(tenant)
    app = create_app({"TESTING": True, "TAGPIN_RECOVERY_DATABASE_URL": tenant.env["TAGPIN_DATABASE_URL"]})
    client = app.test_client()
    for event, status in (("load", None), ("submit_failed", 409), ("load", None)):
        body = {"tenant": tenant.name, "app": "annotator", "app_version": "1.9.0", "event": event, "status": status}
        assert client.post("/recovery/beacon", json=body).status_code in (200, 201, 202, 204)
    current = {"tenant": tenant.name, "app": "annotator", "app_version": "1.10.0", "event": "load"}
    assert client.post("/recovery/beacon", json=current).status_code in (200, 201, 202, 204)

    report = watcher(tenant, slack, TAGPIN_CLIENT_APPS="annotator=frontend").scan_once()
    said = [(s["service"], s["kind"]) for s in report.said]
    assert said == [("frontend", "outdated_client")]
    text = posts(slack)[0]["text"]
    assert "annotator 1.9.0" in text and "1.10.0 is deployed" in text and "1 failed submits" in text


def test_a_rate_limiting_registry_gives_one_warning_not_one_per_service(tenant: Tenant, slack: LocalSlackAPI) -> None:
    def handler(seen: Any) -> Any:
        return json_reply({"errors": [{"code": "TOOMANYREQUESTS"}]}, 429, {"Retry-After": "0"})

    with FakeRegistry(handler) as fake:
        template = tenant.template.read_text().replace(f"{tenant.registry}/", f"{fake.host}/")
        tenant.template.write_text(template)
        ctx = tenant.fresh_context()
        for name in (tenant.name, tenant.name + "-b", tenant.name + "-c"):
            ctx.store.add_tenant(name, "tester")
        ctx.registry = RegistryClient(sleep=lambda s: None)
        tenant.env.update({"TAGPIN_DRIFT_CHANNEL": CHANNEL})
        ctx.settings = Settings.from_env(tenant.env)
        w = Watcher(ctx, SlackNotifier(web_client(slack.url, "xoxb-local", backoff=0.01), CHANNEL))
        report = w.scan_once()
    limited = [s for s in report.said if s["kind"] == "registry_limited"]
    assert len(limited) == 1, report.said
    assert sum("rate-limit" in p["text"] for p in posts(slack)) == 1
    assert {s["kind"] for s in report.said} == {"registry_limited", "missing"}


def test_watch_once_json_prints_findings_and_what_was_said(tenant: Tenant, slack: LocalSlackAPI) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    deploy(tenant)
    tenant.push("frontend", "1.11.0")
    tenant.env.update({"TAGPIN_DRIFT_CHANNEL": CHANNEL, "SLACK_BOT_TOKEN": "xoxb-local",
                       "TAGPIN_SLACK_API_URL": slack.url})
    done = tenant.cli("watch", "--once", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [(f["service"], f["kind"]) for f in data["findings"]] == [("frontend", "behind")]
    assert [(s["verb"], s["kind"]) for s in data["said"]] == [("post", "behind")]
    drift = json.loads(tenant.cli("drift", "--json").stdout)
    assert drift["previous_scan_at"] == drift["watcher_scan_at"] == data["scanned_at"]

    del tenant.env["TAGPIN_DRIFT_CHANNEL"]
    refused = tenant.cli("watch", "--once")
    assert refused.returncode == 2 and "TAGPIN_DRIFT_CHANNEL" in refused.stderr
