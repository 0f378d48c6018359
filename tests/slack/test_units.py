"""Pure parts of the Slack layer: command grammar, confirmation rules, re-send keys (no server, no Swarm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import Refused, UsageError
from bot.service.pending import Confirmations
from bot.slack.commands import Invocation, parse
from tests.slack.harness import Bot


@pytest.mark.parametrize(("command", "text", "expected"), [
    ("/deploy", "acme", Invocation("deploy", tenant="acme")),
    ("/deploy", "acme frontend@1.10.0 --dry-run",
     Invocation("deploy", tenant="acme", overrides={"frontend": "1.10.0"}, dry_run=True)),
    # macOS turns -- into an em dash in Slack's message box; people still mean --dry-run
    ("/deploy", "acme \u2014dry-run", Invocation("deploy", tenant="acme", dry_run=True)),
    ("/tagpin", "deploy acme --allow-downgrade", Invocation("deploy", tenant="acme", allow_downgrade=True)),
    ("/tagpin", "", Invocation("help")),
    ("/status", "acme", Invocation("status", tenant="acme")),
    ("/drift", "", Invocation("drift")),
    ("/drift", "acme beta", Invocation("drift", tenants=("acme", "beta"))),
    ("/audit", "acme --limit 5", Invocation("audit", tenant="acme", limit=5)),
    ("/rollback", "acme", Invocation("rollback", tenant="acme")),
])
def test_command_grammar(command: str, text: str, expected: Invocation) -> None:
    assert parse(command, text) == expected


@pytest.mark.parametrize(("command", "text", "message"), [
    ("/deploy", "", "which tenant?"),
    ("/deploy", "acme frontend=1.2.3", "expected SERVICE@VERSION"),
    ("/deploy", "acme --yes", "unknown option `--yes`"),      # confirmation in Slack is a button, never a flag
    ("/status", "acme beta", "unexpected `beta`"),
    ("/audit", "acme --limit 0", "--limit takes a number from 1 to 100"),
    ("/tagpin", "launch acme", "unknown command `launch`"),
    ("/deploy", "'acme", "cannot read"),
])
def test_command_errors_say_what_to_type(command: str, text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(command, text)
    assert message in str(caught.value)


def _pending(box: Confirmations) -> str:
    return box.add(requester="UALICE", actor="UALICE (@alice)", tenant="acme", digest="d" * 64, channel="C",
                   overrides={}, allow_downgrade=False).id


def test_only_the_requester_confirms_and_only_once() -> None:
    box = Confirmations()
    token = _pending(box)
    with pytest.raises(Refused, match="only <@UALICE>"):
        box.take(token, "UBOB")
    assert box.take(token, "UALICE").digest == "d" * 64
    with pytest.raises(UsageError, match="already used"):
        box.take(token, "UALICE")


def test_a_confirmation_expires() -> None:
    now = [1000.0]
    box = Confirmations(ttl=600, clock=lambda: now[0])
    token = _pending(box)
    now[0] += 601
    with pytest.raises(UsageError, match="expired"):
        box.take(token, "UALICE")


@pytest.mark.parametrize(("path", "socket_mode"), [("manifest.yml", False), ("manifest.socket.yml", True)])
def test_manifests_declare_every_command_the_app_listens_to(path: str, socket_mode: bool) -> None:
    import yaml

    from bot.slack.listeners import COMMANDS

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / path).read_text())
    commands = manifest["features"]["slash_commands"]
    # /status is Slack's own command: the app still answers it (the local shell, a workspace that routes it), but a
    # manifest cannot claim it -- /tagpin status serves it there.
    assert sorted(c["command"] for c in commands) == sorted(set(COMMANDS) - {"/status"})
    assert manifest["settings"]["socket_mode_enabled"] is socket_mode
    assert manifest["settings"]["interactivity"]["is_enabled"] is True        # Confirm/Cancel buttons
    urls = {c.get("url") for c in commands} | {manifest["settings"]["interactivity"].get("request_url")}
    assert urls == ({None} if socket_mode else {"https://tagpin.example.com/slack/events"})
    assert {"commands", "chat:write", "usergroups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_a_confirmation_kept_in_the_store_survives_a_restart_and_is_taken_once(tmp_path: Path) -> None:
    from bot.adapters.confirmations import ConfirmationTable
    from bot.adapters.store import Store

    store = Store(f"sqlite:///{tmp_path / 'tagpin.db'}")
    store.migrate()
    before = Confirmations(backend=ConfirmationTable(store))
    token = _pending(before)
    after = Confirmations(backend=ConfirmationTable(Store(store.url)))     # the bot restarted
    with pytest.raises(Refused):
        after.take(token, "UBOB")
    assert after.take(token, "UALICE").tenant == "acme"
    with pytest.raises(UsageError, match="already used"):
        before.take(token, "UALICE")

    now = [5000.0]
    expiring = Confirmations(ttl=600, clock=lambda: now[0], backend=ConfirmationTable(store))
    token = _pending(expiring)
    now[0] += 601
    with pytest.raises(UsageError, match="expired"):
        expiring.take(token, "UALICE")
    assert ConfirmationTable(store).count() == 0


def test_the_bot_will_not_start_without_a_reachable_slack_or_with_a_refused_token(tmp_path: Path) -> None:
    from bot.__main__ import build_context
    from bot.config import Settings
    from bot.errors import ChatError
    from bot.slack.app import build, web_client
    from bot.slack.localapi import LocalSlackAPI

    with LocalSlackAPI() as api:
        settings = Settings.from_env({"HOME": str(tmp_path), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                                      "SLACK_BOT_TOKEN": "xoxb-t", "SLACK_SIGNING_SECRET": "s",
                                      "TAGPIN_SLACK_API_URL": api.url})
        ctx = build_context(settings)
        api.fail("auth.test", status=200, times=1)
        with pytest.raises(UsageError, match="Slack refused SLACK_BOT_TOKEN"):
            build(ctx, client=web_client(api.url, "xoxb-t", backoff=0.01))
        api.down = True
        with pytest.raises(ChatError, match="cannot reach the Slack Web API"):
            build(ctx, client=web_client(api.url, "xoxb-t", backoff=0.01))


def test_help_leads_with_tagpin_forms_because_slash_status_is_slacks_own(offline_bot: Bot) -> None:
    """Slack keeps `/status` for setting one's own status; every command is shown as `/tagpin <command>`."""
    reply = offline_bot.command("/tagpin", "help")
    text = "\n".join(b["text"]["text"] for b in reply.json()["blocks"])
    bullets = [line for line in text.splitlines() if line.startswith("• ")]
    assert bullets[0].startswith("• `/tagpin status TENANT`"), text
    assert all(line.startswith("• `/tagpin ") for line in bullets), text
    assert {"deploy", "drift", "audit", "rollback"} <= {line.split()[2].strip("`") for line in bullets}
    assert "`/status" not in text
