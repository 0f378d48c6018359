"""The drift notice's buttons through the real endpoint: Deploy now (authorized or refused), Show plan, Snooze."""

from __future__ import annotations

import json
from typing import Any

from bot.service.deploy import Deployer
from bot.service.watching import Watcher
from bot.slack import notice_blocks
from bot.slack.app import web_client
from bot.slack.notifier import SlackNotifier
from tests.e2e.conftest import Tenant
from tests.slack.harness import TOKEN, Bot

DRIFT = "CDRIFT"


def scan(bot: Bot, tenant: Tenant) -> list[dict[str, Any]]:
    ctx = tenant.fresh_context()
    return Watcher(ctx, SlackNotifier(web_client(bot.api.url, TOKEN, backoff=0.01), DRIFT)).scan_once().said


def texts(bot: Bot) -> str:
    return json.dumps(bot.responses())


def test_deploy_now_is_authorized_like_deploy_and_fixes_the_notice(bot: Bot, tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert Deployer(tenant.fresh_context()).deploy(tenant.name, "t", confirm=lambda p: True).outcome == "converged"
    tenant.push("frontend", "1.11.0")
    (said,) = scan(bot, tenant)
    value = f"{said['notice']}:{tenant.name}"

    assert bot.click(notice_blocks.DEPLOY_NOW, value, user="UBOB").status_code == 200
    bot.wait()
    assert "may not deploy" in texts(bot)
    events = tenant.fresh_context().store.events(tenant.name)
    assert events[0].outcome == "refused" and "UBOB" in events[0].actor
    assert len(tenant.fresh_context().store.converged(tenant.name, limit=5)) == 1   # nothing deployed

    assert bot.click(notice_blocks.SHOW_PLAN, value, user="UBOB").status_code == 200
    bot.wait()
    assert "Dry run: nothing applied." in texts(bot) and "1.11.0" in texts(bot)

    assert bot.click(notice_blocks.SNOOZE, value, user="UALICE").status_code == 200
    bot.wait()
    notice = tenant.fresh_context().tables.notices.get(said["notice"])
    assert notice is not None and notice.snoozed_until is not None and "UALICE" in (notice.snoozed_by or "")
    assert "paused until" in texts(bot)

    assert bot.click(notice_blocks.DEPLOY_NOW, value, user="UALICE").status_code == 200
    bot.wait()
    (fixed,) = tenant.fresh_context().store.converged(tenant.name, limit=1)
    assert fixed.actor.startswith("UALICE") and "1.11.0" in fixed.references
    resolved = scan(bot, tenant)
    assert [(s["verb"], s["resolved_by"]) for s in resolved] == [("resolve", fixed.id)]


def test_slash_drift_says_when_the_watcher_last_scanned(bot: Bot, tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert Deployer(tenant.fresh_context()).deploy(tenant.name, "t", confirm=lambda p: True).outcome == "converged"
    bot.command("/drift", tenant.name)
    bot.wait()
    assert "the watcher has not scanned yet" in texts(bot)
    scan(bot, tenant)
    bot.command("/drift", tenant.name)
    bot.wait()
    assert "the watcher's last scan: " in json.dumps(bot.responses()[-1])
