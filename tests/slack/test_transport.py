"""Signed requests, re-sends, 429s and errors through the real HTTP endpoint (no Swarm needed)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest
import requests

from bot.service.observe import Observer
from bot.slack.intake import MAX_BODY
from bot.slack.signing import signed_headers
from tests.slack.harness import AUDIT, SECRET, Bot, running_bot


def _only_the_control_answers(bot: Bot) -> None:
    """A valid request after the refused one, answered in full: had the refused one run, it would show too."""
    assert bot.command("/tagpin", "help").status_code == 200
    bot.command("/audit", "nosuch-tenant")
    bot.wait()
    answers = bot.responses()
    assert len(answers) == 1 and "Audit trail of `nosuch-tenant`" in answers[0]["text"], answers


def test_a_forged_signature_is_refused_with_401_and_nothing_runs(offline_bot: Bot) -> None:
    reply = offline_bot.command("/audit", "", secret="not-the-signing-secret")
    assert reply.status_code == 401
    _only_the_control_answers(offline_bot)
    assert offline_bot.rt.ctx.store.events() == []


def test_a_signed_but_broken_payload_is_400_and_an_oversized_body_413(offline_bot: Bot) -> None:
    for body, status in ((b"payload=%7Bnot-json", 400), (b"a=" + b"x" * MAX_BODY, 413)):
        reply = requests.post(offline_bot.url, data=body, headers=signed_headers(SECRET, body), timeout=10)
        assert reply.status_code == status and "error" in reply.json(), (status, reply.text[:200])
    _only_the_control_answers(offline_bot)


def test_a_stale_timestamp_is_refused_with_401(offline_bot: Bot) -> None:
    # Slack: reject requests whose timestamp is more than five minutes from local time (replay protection).
    reply = offline_bot.command("/audit", "", timestamp=int(time.time()) - 6 * 60)
    assert reply.status_code == 401
    _only_the_control_answers(offline_bot)


def test_a_resent_request_is_acknowledged_but_not_acted_on_twice(offline_bot: Bot) -> None:
    body = "command=%2Fdeploy&text=acme&user_id=UBOB&user_name=bob&channel_id=COPS&trigger_id=123.456&" \
           f"team_id=TLOCAL&response_url={offline_bot.api.response_url('once')}"
    first = offline_bot.command("/deploy", "acme", body=body)
    again = offline_bot.command("/deploy", "acme", body=body, retry_num=1)
    assert first.status_code == again.status_code == 200
    assert "Planning" in first.json()["text"] and again.text == ""
    offline_bot.wait()
    refusals = [e for e in offline_bot.rt.ctx.store.events() if e.outcome == "refused"]
    assert len(refusals) == 1 and len(offline_bot.responses()) == 1


def test_an_unauthorized_user_is_refused_audited_and_told_why(offline_bot: Bot) -> None:
    reply = offline_bot.command("/deploy", "acme", user="UBOB")
    assert reply.status_code == 200
    offline_bot.wait()
    (answer,) = offline_bot.responses()
    assert answer["response_type"] == "ephemeral" and "not in TAGPIN_DEPLOYERS" in answer["text"]
    (event,) = offline_bot.rt.ctx.store.events()
    assert (event.actor, event.command, event.tenant, event.outcome) == ("UBOB (@bob)", "deploy", "acme", "refused")
    parent, refused = offline_bot.api.of("chat.postMessage")
    assert parent.params["channel"] == refused.params["channel"] == AUDIT
    assert parent.params["metadata"]["event_type"] == "tagpin_audit" and "thread_ts" not in parent.params
    assert refused.params["metadata"]["event_payload"] == {
        "actor": "UBOB (@bob)", "command": "deploy", "tenant": "acme", "step": "refused"}
    assert isinstance(parent.reply, dict) and refused.params["thread_ts"] == parent.reply["ts"]


def test_a_usergroup_member_is_authorized(offline_bot: Bot) -> None:
    offline_bot.command("/rollback", "acme", user="UCAROL")      # SOPS = [UCAROL]; TAGPIN_DEPLOYERS has SOPS
    offline_bot.wait()
    (answer,) = offline_bot.responses()
    assert "not in TAGPIN_DEPLOYERS" not in answer["text"]
    assert "acme has no earlier converged deployment to roll back to" in answer["text"]


def test_usage_errors_are_answered_in_the_acknowledgement(offline_bot: Bot) -> None:
    reply = offline_bot.command("/deploy", "")
    assert reply.status_code == 200 and "which tenant?" in reply.json()["text"]
    reply = offline_bot.command("/tagpin", "frobnicate acme")
    assert "unknown command" in reply.json()["text"]
    offline_bot.wait()
    assert offline_bot.responses() == []


def test_a_429_is_retried_after_retry_after_then_posted(offline_bot: Bot) -> None:
    offline_bot.api.fail("chat.postMessage", status=429, times=1, retry_after=1)
    started = time.monotonic()
    offline_bot.command("/deploy", "acme", user="UBOB")
    offline_bot.wait()
    posts = [c for c in offline_bot.api.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts][:2] == [429, 200]
    assert posts[1].at - posts[0].at >= 0.9                  # the SDK's RateLimitErrorRetryHandler waited
    assert len(offline_bot.posts(AUDIT)) == 2 and time.monotonic() - started < 10


def test_a_bug_is_logged_with_a_reference_and_the_user_sees_only_the_reference(
        offline_bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(self: Observer, tenant: str, actor: str = "cli") -> dict[str, object]:
        raise KeyError("the bug")

    monkeypatch.setattr(Observer, "status", broken)
    with caplog.at_level(logging.ERROR, logger="tagpin.slack"):
        offline_bot.command("/status", "acme")
        offline_bot.wait()
    (answer,) = offline_bot.responses()
    ref = answer["text"].split("reference `")[1][:8]
    assert "the bug" not in json.dumps(answer)
    (record,) = [r for r in caplog.records if ref in r.getMessage()]
    assert record.exc_info is not None and "the bug" in str(record.exc_info[1])


def test_per_tenant_deployers_and_channels_narrow_the_global_list(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}",
           "TAGPIN_DEPLOYERS": "UALICE,UBOB", "TAGPIN_DEPLOYERS_ACME_EU": "UBOB", "TAGPIN_CHANNELS_ACME": "CPROD"}
    with running_bot(env) as bot:
        bot.command("/deploy", "acme-eu", user="UALICE")
        bot.command("/deploy", "acme", user="UBOB")
        bot.wait()
        answers = " | ".join(r["text"] for r in bot.responses())
    assert "may not deploy acme-eu: this tenant has its own deployer list" in answers
    assert "acme may only be deployed from <#CPROD>" in answers


def test_a_resent_request_is_not_acted_on_by_a_restarted_or_second_bot_process(tmp_path: Path) -> None:
    # Two bots on one database: a restart, or a second replica behind a load balancer.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"}
    with running_bot(env) as first_process:
        body = "command=%2Fdeploy&text=acme&user_id=UBOB&user_name=bob&channel_id=COPS&trigger_id=777.888&" \
               f"team_id=TLOCAL&response_url={first_process.api.response_url('once')}"
        assert "Planning" in first_process.command("/deploy", "acme", body=body).json()["text"]
        first_process.wait()
    with running_bot(env) as second_process:
        replay = second_process.command("/deploy", "acme", body=body)
        retry = second_process.command("/deploy", "acme", body=body, retry_num=1)
        other = second_process.command("/audit", "")              # a new request still runs
        assert replay.status_code == retry.status_code == 200 and replay.text == retry.text == ""
        assert other.status_code == 200 and other.text != ""
        second_process.wait()
        refusals = [e for e in second_process.rt.ctx.store.events() if e.command == "deploy"]
        assert len(refusals) == 1
        assert not [r for r in second_process.responses() if "acme" in r.get("text", "")]
