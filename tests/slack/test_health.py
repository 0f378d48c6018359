"""The bot's /healthz, /readyz and /metrics: the real endpoint, a real deploy, a real store and engine failing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from slack_sdk.errors import SlackApiError

from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers, slash_body
from tests.e2e.conftest import Tenant
from tests.slack.harness import Bot, running_bot
from tests.support.prom import scrape, total, value

ROOT = Path(__file__).resolve().parents[2]


def base(bot: Bot) -> str:
    return bot.url.removesuffix("/slack/events")


def ready(url: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    resp = requests.get(f"{url}/readyz", timeout=10)
    return resp.status_code, resp.json(), time.monotonic() - started


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers: a hung engine or database."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def test_a_slack_deploy_moves_the_counters_and_readyz_names_every_check(bot: Bot, tenant: Tenant) -> None:
    url = base(bot)
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    status, body, _ = ready(url)
    assert status == 200 and body["ready"] is True and body["failing"] == []
    assert set(body["checks"]) == {"store", "engine", "slack"}      # type: ignore[arg-type]
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    before = scrape(url)
    assert bot.command("/deploy", tenant.name).status_code == 200
    bot.wait()
    assert bot.click("tagpin_confirm", bot.button()).status_code == 200
    bot.wait()
    after = scrape(url)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("tagpin_deploys_total", command="deploy", outcome="converged") == 1
    assert delta("tagpin_deploys_total", command="deploy", outcome="awaiting_confirmation") == 1  # the new tenant
    assert delta("tagpin_deploy_duration_seconds_count", command="deploy", outcome="converged") == 1
    assert delta("tagpin_deploy_duration_seconds_sum", command="deploy", outcome="converged") > 0
    assert delta("tagpin_registry_requests_total", kind="tags_page", status="200") >= 2      # two repositories
    assert delta("tagpin_registry_requests_total", kind="manifest_head", status="200") >= 2
    assert delta("tagpin_engine_calls_total", call="cli stack deploy", result="ok") == 1
    assert delta("tagpin_engine_calls_total", call="services", result="ok") >= 1
    assert delta("tagpin_engine_calls_total", call="tasks", result="ok") >= 1
    assert delta("tagpin_slack_api_calls_total", method="chat.postMessage") >= 2     # progress and audit thread
    assert delta("tagpin_slack_api_calls_total", method="chat.update") >= 3
    assert delta("tagpin_slack_ack_seconds_count", status="200") == 2                  # the command and the click
    assert value(after, "tagpin_outbox_backlog") == 0                                  # every audit post went out
    assert value(after, "tagpin_ready", check="store") == 1


def test_readyz_fails_when_the_database_directory_goes(tmp_path: Path) -> None:
    home = tmp_path / "state"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "TAGPIN_DATABASE_URL": f"sqlite:///{home / 'tagpin.db'}"}
    with running_bot(env) as bot:
        assert ready(base(bot))[0] == 200
        shutil.rmtree(home)
        status, body, took = ready(base(bot))
        assert status == 503 and body["failing"] == ["store"], body
        assert "is gone" in body["checks"]["store"]["detail"]          # type: ignore[index]
        assert took < 2.5
        assert requests.get(f"{base(bot)}/healthz", timeout=5).status_code == 200
        assert value(scrape(base(bot)), "tagpin_ready", check="store") == 0


def test_readyz_answers_within_its_bound_when_the_engine_hangs_or_is_down(tmp_path: Path, silent_port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    # Down first: until Python 3.12 a cached_property holds one lock for all instances, so the hung engine's
    # probe (Context.swarm) would hold up the next bot's in this one test process.
    for port, said in ((closed, "Connection refused"), (silent_port, "no answer within")):
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
               "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"}
        with running_bot(env) as bot:
            for _ in range(2):                  # the second probe finds the first still hung: still bounded
                status, body, took = ready(base(bot))
                assert status == 503 and body["failing"] == ["engine"], body
                assert said in body["checks"]["engine"]["detail"], body      # type: ignore[index]
                assert took < 2.5, took


def test_slack_api_errors_are_counted_by_method_and_error(offline_bot: Bot) -> None:
    before = scrape(base(offline_bot))
    offline_bot.api.fail("chat.postMessage", status=400)
    with pytest.raises(SlackApiError):
        offline_bot.rt.client.chat_postMessage(channel="COPS", text="hello")
    after = scrape(base(offline_bot))
    assert (value(after, "tagpin_slack_api_errors_total", method="chat.postMessage", error="fatal_error")
            - value(before, "tagpin_slack_api_errors_total", method="chat.postMessage", error="fatal_error")) == 1
    assert (value(after, "tagpin_slack_api_calls_total", method="chat.postMessage")
            - value(before, "tagpin_slack_api_calls_total", method="chat.postMessage")) == 1


def test_tagpin_bot_as_a_process_serves_health_and_metrics(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    secret = "health-signing-secret-0123456789"
    with LocalSlackAPI() as api:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
               "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "TAGPIN_SLACK_API_URL": api.url,
               "SLACK_BOT_TOKEN": "xoxb-health", "SLACK_SIGNING_SECRET": secret, "TAGPIN_BIND": f"127.0.0.1:{port}",
               "TAGPIN_LOG_FILE": str(tmp_path / "tagpin.log"), "TAGPIN_DEPLOYERS": "UALICE"}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "bot"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "tagpin bot did not start"
                time.sleep(0.1)
            status, body, _ = ready(url)
            assert status == 200, body
            before = scrape(url)
            # the start's check, in each process of the bot that has started (job worker, gunicorn workers)
            assert value(before, "tagpin_slack_api_calls_total", method="auth.test") >= 1
            payload = slash_body("/tagpin", "help", user_id="UALICE", user_name="alice", channel_id="COPS",
                                 response_url=api.response_url("health"))
            ack = requests.post(f"{url}/slack/events", data=payload.encode(), headers=signed_headers(secret, payload),
                                timeout=10)
            assert ack.status_code == 200
            unsigned = requests.post(f"{url}/slack/events", data=payload.encode(), timeout=10)
            assert unsigned.status_code in (400, 401)
            after = scrape(url)
            assert (value(after, "tagpin_slack_ack_seconds_count", status="200")
                    - value(before, "tagpin_slack_ack_seconds_count", status="200")) == 1
            assert value(after, "tagpin_slack_ack_seconds_count", status=str(unsigned.status_code)) == 1
            assert value(after, "process_resident_memory_bytes") > 0
        finally:
            proc.terminate()
            out, stderr = proc.communicate(timeout=30)
    # Slack's requests are in the access log with their status and time; probes and scrapes stay out of it.
    refused = f'"POST /slack/events HTTP/1.1" {unsigned.status_code} '.encode()
    assert b'"POST /slack/events HTTP/1.1" 200 ' in out and refused in out, out
    assert b"GET /readyz" not in out and b"GET /metrics" not in out and b"GET /healthz" not in out
    assert b"tagpin bot listening on" in stderr or b"job worker" in stderr, stderr[-2000:]
