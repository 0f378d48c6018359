"""A CLI deploy is a deploy like any other: its audit thread reaches the channel, its steps show on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.outbox import Outbox
from bot.slack.localapi import LocalSlackAPI
from tests.e2e.conftest import Tenant

AUDIT = "CAUDIT"


@pytest.fixture
def slack() -> Iterator[LocalSlackAPI]:
    with LocalSlackAPI() as api:
        yield api


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the CLI with stderr on a pseudo-terminal (as a person at a shell has it), stdout on a pipe."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([str(Path(".venv/bin/tagpin").resolve()), *argv], stdout=subprocess.PIPE,
                                stderr=follower, stdin=subprocess.DEVNULL, env=env, text=True)
    finally:
        os.close(follower)
    seen = b""
    while True:                                   # read as it comes: a full pty buffer would block the CLI
        try:
            chunk = os.read(leader, 4096)
        except OSError:                           # EIO: the CLI exited and closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    out = proc.communicate(timeout=300)[0]
    return subprocess.CompletedProcess(argv, proc.returncode, out, ""), seen.decode()


def _threads(api: LocalSlackAPI) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each audit thread: its parent message and its replies, in posting order."""
    calls = [c for c in api.of("chat.postMessage") if c.params["channel"] == AUDIT]
    parents = [c for c in calls if "thread_ts" not in c.params]
    return [(p.params, [c.params for c in calls if c.params.get("thread_ts") == p.reply["ts"]])  # type: ignore[index]
            for p in parents]


def test_a_cli_deploy_posts_its_audit_thread_and_shows_its_steps_on_a_terminal(tenant: Tenant,
                                                                              slack: LocalSlackAPI) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    env = {**tenant.env, "TAGPIN_AUDIT_CHANNEL": AUDIT, "SLACK_BOT_TOKEN": "xoxb-local",
           "TAGPIN_SLACK_API_URL": slack.url, "TAGPIN_ACTOR": "alice (cli)"}
    done, terminal = _on_a_terminal(["deploy", tenant.name, "--yes", "--json"], env)
    assert done.returncode == 0, terminal
    assert json.loads(done.stdout)["outcome"] == "converged"          # stdout stays the one JSON object
    shown = [line.split(":")[0].strip() for line in terminal.splitlines() if line.startswith("  ")]
    assert shown[:2] == ["resolving", "planned"] and shown.index("applying") < shown.index("verifying"), terminal

    ((parent, replies),) = _threads(slack)
    assert parent["text"] == f"`tagpin deploy {tenant.name}` by alice (cli)"
    assert parent["metadata"]["event_payload"] == {"actor": "alice (cli)", "command": "deploy",
                                                   "tenant": tenant.name, "step": "started"}
    steps = [r["metadata"]["event_payload"]["step"] for r in replies]
    assert steps[:2] == ["resolving", "planned"] and steps[-1] == "converged", steps
    assert steps.index("applying") < steps.index("verifying")
    assert replies[-1]["metadata"]["event_payload"]["deployment_id"] == json.loads(done.stdout)["deployment_id"]


def test_a_cli_rollback_without_a_terminal_posts_its_thread_and_prints_no_progress(tenant: Tenant,
                                                                                   slack: LocalSlackAPI) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    assert tenant.cli("deploy", tenant.name, "--yes").returncode == 0            # no channel set: no thread
    tenant.push("frontend", "1.10.1")
    assert tenant.cli("deploy", tenant.name, "--yes").returncode == 0
    tenant.env.update({"TAGPIN_AUDIT_CHANNEL": AUDIT, "SLACK_BOT_TOKEN": "xoxb-local",
                       "TAGPIN_SLACK_API_URL": slack.url})
    back = tenant.cli("rollback", tenant.name, "--json")
    assert back.returncode == 0, back.stderr
    assert back.stderr == ""                                  # a pipe, not a terminal: no progress lines
    ((parent, replies),) = _threads(slack)
    assert parent["text"].startswith(f"`tagpin rollback {tenant.name}` by ")
    assert parent["metadata"]["event_payload"]["command"] == "rollback"
    assert [r["metadata"]["event_payload"]["step"] for r in replies][-1] == "converged"


def test_a_cli_deploy_with_a_channel_but_no_token_keeps_its_thread_for_the_bot(tenant: Tenant) -> None:
    tenant.push("frontend", "1.10.0")
    tenant.push("backend", "3.0.0")
    tenant.env["TAGPIN_AUDIT_CHANNEL"] = AUDIT
    assert tenant.cli("deploy", tenant.name, "--yes").returncode == 0
    ctx = tenant.fresh_context()
    kept = Outbox(ctx.store).pending(AUDIT)
    assert kept[0].parent_id is None and kept[0].text == f"`tagpin deploy {tenant.name}` by {ctx.settings.actor}"
    assert len(kept) >= 5 and all(r.parent_id == kept[0].id for r in kept[1:])
