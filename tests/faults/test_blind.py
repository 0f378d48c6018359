"""Never green while blind: a scan that could not judge a service says so (exit 4, `unknown`), never "no drift"."""

from __future__ import annotations

import json
import subprocess
import time

from bot.service.deploy import Deployer
from bot.service.watching import Watcher
from bot.slack.app import web_client
from bot.slack.localapi import LocalSlackAPI
from bot.slack.notifier import SlackNotifier
from tests.e2e.conftest import Tenant
from tests.support.fake_registry import FakeRegistry, json_reply

CHANNEL = "CDRIFT"


def _deployed(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    result = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert result.outcome == "converged", result.message


def _point_template_at(tenant: Tenant, host: str) -> None:
    tenant.template.write_text(tenant.template.read_text().replace(f"{tenant.registry}/", f"{host}/"))


def test_drift_with_the_registry_down_is_unknown_and_exits_4(tenant: Tenant, closed_port: int) -> None:
    _deployed(tenant)
    _point_template_at(tenant, f"127.0.0.1:{closed_port}")
    started = time.monotonic()
    for argv in (("drift", "--exit-code"), ("drift",), ("drift", tenant.name, "--exit-code")):
        done = tenant.cli(*argv, "--json")
        assert done.returncode == 4, (argv, done.stdout, done.stderr)
        data = json.loads(done.stdout)
        assert data["complete"] is False and data["unknown"] == 2
        assert {(f["service"], f["kind"]) for f in data["findings"]} == {("frontend", "unknown"),
                                                                         ("backend", "unknown")}
        assert "incomplete" in done.stderr
    text = tenant.cli("drift", "--exit-code")
    assert text.returncode == 4
    assert text.stdout.startswith("drift unknown for 2 services")
    assert "no drift" not in text.stdout
    assert time.monotonic() - started < 60


def test_status_with_a_registry_answering_500_says_unknown_not_ok(tenant: Tenant) -> None:
    _deployed(tenant)
    with FakeRegistry(lambda seen: json_reply({"errors": [{"code": "UNKNOWN"}]}, 500)) as fake:
        _point_template_at(tenant, fake.host)
        done = tenant.cli("status", tenant.name, "--json")
        text = tenant.cli("status", tenant.name)
    assert done.returncode == 4, done.stderr
    data = json.loads(done.stdout)
    assert data["complete"] is False
    for service in data["services"]:
        assert service["available"] is None
        assert [d["kind"] for d in service["drift"]] == ["unknown"]
    assert text.returncode == 4
    head, *rows = text.stdout.splitlines()
    assert head == f"{tenant.name}: drift unknown for 2 services (the registry could not say)"
    assert all(" ok" not in row and "unknown" in row for row in rows[1:3]), text.stdout


def test_the_watcher_posts_one_scan_incomplete_notice_and_keeps_open_notices_open(
        tenant: Tenant, slack: LocalSlackAPI, closed_port: int) -> None:
    _deployed(tenant)
    tenant.push("frontend", "1.11.0")
    tenant.env.update({"TAGPIN_DRIFT_CHANNEL": CHANNEL})

    def watcher() -> Watcher:
        return Watcher(tenant.fresh_context(), SlackNotifier(web_client(slack.url, "xoxb-local", backoff=0.01),
                                                             CHANNEL))

    first = watcher().scan_once()
    assert [(s["verb"], s["kind"]) for s in first.said] == [("post", "behind")]
    good = tenant.template.read_text()
    _point_template_at(tenant, f"127.0.0.1:{closed_port}")
    blind = watcher().scan_once()
    assert blind.as_dict()["complete"] is False
    # One notice for the whole scan; the `behind` notice is neither resolved nor silently dropped.
    assert [(s["verb"], s["kind"]) for s in blind.said] == [("post", "scan_incomplete")]
    posted = [c.params["text"] for c in slack.of("chat.postMessage")]
    assert "drift unknown for 2 service(s)" in posted[-1]
    assert not slack.of("chat.update")
    tenant.template.write_text(good)
    seen_again = watcher().scan_once()
    assert [(s["verb"], s["kind"]) for s in seen_again.said] == [("resolve", "scan_incomplete")]


def test_a_service_scaled_to_zero_is_drift_unless_the_template_says_zero(tenant: Tenant) -> None:
    _deployed(tenant)
    subprocess.run(["docker", "service", "scale", "--detach", f"{tenant.name}_backend=0"], check=True,
                   capture_output=True)
    data = json.loads(tenant.cli("drift", "--json").stdout)
    assert [(f["service"], f["kind"]) for f in data["findings"]] == [("backend", "scaled_down")]
    status = tenant.cli("status", tenant.name)
    assert "scaled_down" in status.stdout

    tenant.template.write_text(tenant.template.read_text().replace(
        "  backend:\n", "  backend:\n    deploy: {replicas: 0}\n"))
    data = json.loads(tenant.cli("drift", "--json").stdout)
    assert data["findings"] == [] and data["complete"] is True


def test_drift_refuses_an_unknown_tenant_like_status(tenant: Tenant) -> None:
    _deployed(tenant)
    for argv in (("drift", "nosuch"), ("drift", tenant.name, "nosuch"), ("status", "nosuch")):
        done = tenant.cli(*argv)
        assert done.returncode == 1, (argv, done.stdout)
        assert done.stderr.startswith("error: nosuch is not onboarded and runs no stack"), done.stderr
        assert done.stdout == ""
