"""/rollout through the real bolt app, the local Slack Web API and the real Swarm: the fleet plan, Confirm bound to
its digest and its requester, one progress message edited in place wave by wave, a thread per tenant in the audit
channel; a failing release halts it in place; bad input is answered in the acknowledgement."""

from __future__ import annotations

from typing import Any

from bot.service import waves
from bot.service.rollout import Want, plan_rollout
from tests.e2e.conftest import Tenant
from tests.e2e.fleet import fleet, frontends
from tests.slack.harness import AUDIT, CHANNEL, Bot


def _board(bot: Bot) -> tuple[str, list[str]]:
    """The one progress message in the channel and the text of every edit of it, in order."""
    (post,) = [c for c in bot.api.of("chat.postMessage") if c.params["channel"] == CHANNEL]
    ts = post.reply["ts"] if isinstance(post.reply, dict) else ""
    edits = [c.params for c in bot.api.of("chat.update")]
    assert edits and {e["ts"] for e in edits} == {ts}, edits
    return ts, [_text(e) for e in edits]


def _text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message.get("blocks", []) if b.get("type") == "section")


def test_a_risky_rollout_waits_for_its_requester_then_shows_each_wave_in_one_message(bot: Bot,
                                                                                      tenant: Tenant) -> None:
    with fleet(tenant, "abc") as names:
        tenant.push("frontend", "1.5.0")
        tenant.push("backend", "4.0.0")                         # a major jump for every tenant: risky
        ack = bot.command("/rollout", "--waves 1,100% --parallel 2")
        assert ack.status_code == 200 and "Planning the rollout of every service to every tenant" in ack.json()["text"]
        bot.wait()
        plan = bot.responses()[-1]
        shown = str(plan["blocks"])
        assert plan["response_type"] == "ephemeral" and "3 risk(s) to confirm" in shown, shown
        assert all(f"{n}: backend: major jump" in shown for n in names), shown
        assert "*Wave 1* (1 tenant(s))" in shown and "*Wave 2* (2 tenant(s))" in shown
        confirm = next(e for b in plan["blocks"] if b["type"] == "actions" for e in b["elements"]
                       if e["action_id"] == "tagpin_confirm")
        assert confirm["confirm"]["confirm"]["text"] == "Roll out"      # Slack's own dialog, repeating the risks
        assert frontends(tenant, names) == ["1.4.0"] * 3                 # nothing moved before the click

        bot.click("tagpin_confirm", bot.button(), user="UCAROL")           # a deployer, not the requester
        bot.wait()
        assert "only <@UALICE>" in bot.responses()[-1]["text"]
        bot.click("tagpin_confirm", bot.button())
        bot.wait()
        assert "confirmed fleet plan" in bot.responses()[-1]["text"]
        _, edits = _board(bot)
        assert "Rollout #1 of every service by <@UALICE>" in edits[-1], edits[-1]
        assert "Wave 1: :white_check_mark: done (1/1)" in edits[-1] and "Wave 2: :white_check_mark: done (2/2)" \
            in edits[-1] and "*converged*: 3 tenant(s) on the target" in edits[-1], edits[-1]
        assert any("Wave 2: :hourglass_flowing_sand: running" in e for e in edits), edits   # seen while it ran
        assert frontends(tenant, names) == ["1.5.0"] * 3
        # one audit thread per tenant, as any deploy writes
        parents = [c.params for c in bot.api.of("chat.postMessage")
                   if c.params["channel"] == AUDIT and "thread_ts" not in c.params]
        assert sorted(p["metadata"]["event_payload"]["tenant"] for p in parents) == sorted(names), parents
        outcomes = [e.outcome for e in bot.rt.ctx.store.events() if e.command == "rollout"]
        assert outcomes == ["converged", "started", "confirmed", "awaiting_confirmation"], outcomes
        bot.click("tagpin_confirm", bot.button())                           # used once
        bot.wait()
        assert "expired or was already used" in bot.responses()[-1]["text"]


def test_a_release_that_cannot_start_halts_the_rollout_in_its_message(bot: Bot, tenant: Tenant) -> None:
    with fleet(tenant, "abc") as names:
        tenant.pusher.push(tenant.repo("frontend"), "1.6.0", cmd=("/bin/false",))    # exits at once
        bot.command("/tagpin", "rollout frontend --waves 1,100%")            # no risk: rolled out at once
        bot.wait()
        _, edits = _board(bot)
        last = edits[-1]
        assert "Wave 1: :red_circle: failed (0/1 converged)" in last and f"`{names[0]}` rolled_back" in last, last
        assert "Wave 2: :white_circle: waiting (2 tenant(s))" in last and "halted at wave 1" in last, last
        assert f"not reached, untouched: `{names[1]}`, `{names[2]}`" in last, last
        assert frontends(tenant, names) == ["1.4.0"] * 3


def test_a_fleet_plan_that_changed_under_the_button_is_shown_again_not_rolled_out(bot: Bot,
                                                                                   tenant: Tenant) -> None:
    with fleet(tenant, "ab") as names:
        tenant.push("backend", "4.0.0")
        bot.command("/rollout", "backend")
        bot.wait()
        first = bot.button()
        tenant.push("backend", "4.1.0")                                  # a newer release since it was shown
        bot.click("tagpin_confirm", first)
        bot.wait()
        again = bot.responses()[-1]
        assert "The fleet plan changed since you saw it" in str(again["blocks"]) and "4.1.0" in str(again["blocks"])
        assert [tenant.ctx.swarm.stack(n)["backend"].spec.tag for n in names] == ["3.0.0"] * 2  # type: ignore[union-attr]
        second = bot.button()
        assert second != first
        bot.click("tagpin_cancel", second)
        bot.wait()
        assert "Cancelled; no tenant was touched" in bot.responses()[-1]["text"]
        assert not [c for c in bot.api.of("chat.postMessage") if c.params["channel"] == CHANNEL]    # no board


def test_rollout_input_is_checked_and_a_dry_run_changes_nothing(bot: Bot, tenant: Tenant) -> None:
    for text, needle in [("--parallel 0", "--parallel takes a number from 1 to 32"),
                         ("--waves", "--waves needs a value"),
                         ("frontend@", "expected SERVICE or SERVICE@VERSION"),
                         ("--label a=b --label c=d", "--label is given twice"),
                         ("--yes", "unknown option `--yes`"),
                         ("--resume 7 frontend", "--resume takes the rollout as it was planned: drop SERVICE"),
                         ("--resume 7 --abandon 7 --reason x", "drop --resume and --abandon"),
                         ("--resume seven", "--resume takes a rollout's number"),
                         ("--abandon 7", '--abandon needs --reason "TEXT"'),
                         ("--abandon 7 --parallel 2 --reason x", "drop --parallel"),
                         ("--resume 7 --reason x", "--reason goes with --abandon ID or --override-freeze"),
                         ("--reason x", "--reason goes with --abandon ID or --override-freeze")]:
        ack = bot.command("/rollout", text)
        assert ack.status_code == 200 and needle in ack.json()["text"], (text, ack.json())
    with fleet(tenant, "ab") as names:
        tenant.push("frontend", "1.5.0")
        bot.command("/rollout", "--dry-run --waves 100%")
        bot.wait()
        shown = bot.responses()[-1]
        assert "Dry run: nothing applied." in str(shown["blocks"]) and "Confirm" not in str(shown["blocks"])
        bot.command("/rollout", "db")
        bot.wait()
        assert "the stack has no service 'db'" in bot.responses()[-1]["text"]
        bot.command("/rollout", "--tenants nobody")
        bot.wait()
        assert "nobody is not onboarded" in bot.responses()[-1]["text"]
        bot.command("/rollout", "frontend", user="UBOB")                 # not a deployer: nothing moves
        bot.wait()
        assert "may not roll out" in bot.responses()[-1]["text"]
        assert frontends(tenant, names) == ["1.4.0"] * 2


def _interrupted(bot: Bot, services: list[str]) -> int:
    """A rollout whose process died as it began: its rows in the store, its lease let go, no tenant started."""
    fp = plan_rollout(bot.rt.ctx, Want.parse(services), "all", None, "1,100%")
    rollout_id, lease = waves.begin(bot.rt.ctx, fp, "a process that died")
    lease.release()
    return rollout_id


def test_an_interrupted_rollout_is_resumed_from_slack_on_a_board_of_its_own(bot: Bot, tenant: Tenant) -> None:
    with fleet(tenant, "abc") as names:
        tenant.push("frontend", "1.5.0")
        rollout_id = _interrupted(bot, ["frontend"])
        bot.command("/rollout", f"--resume {rollout_id}", user="UBOB")           # not a deployer: nothing moves
        bot.wait()
        assert "may not resume a rollout of" in bot.responses()[-1]["text"]
        assert frontends(tenant, names) == ["1.4.0"] * 3
        bot.command("/tagpin", f"rollout --resume {rollout_id} --parallel 2")
        bot.wait()
        _, edits = _board(bot)
        assert f"Rollout #{rollout_id}, resumed by <@UALICE>" in edits[-1], edits[-1]
        assert "Wave 1: :white_check_mark: done (1/1)" in edits[-1] and "Wave 2: :white_check_mark: done (2/2)" \
            in edits[-1] and "*converged*: 3 tenant(s) on the target" in edits[-1], edits[-1]
        assert frontends(tenant, names) == ["1.5.0"] * 3
        bot.command("/rollout", f"--resume {rollout_id}")                      # ended: nothing to resume
        bot.wait()
        assert f"rollout #{rollout_id} converged at" in bot.responses()[-1]["text"]


def test_an_interrupted_rollout_is_abandoned_from_slack_with_who_and_why(bot: Bot, tenant: Tenant) -> None:
    with fleet(tenant, "ab") as names:
        tenant.push("frontend", "1.5.0")
        rollout_id = _interrupted(bot, ["frontend"])
        bot.command("/rollout", f'--abandon {rollout_id} --reason "superseded by 1.6.0"')
        bot.wait()
        said = bot.responses()[-1]
        assert said["response_type"] == "in_channel"
        assert f"abandoned rollout #{rollout_id}: superseded by 1.6.0" in said["text"], said
        assert all(f"`{n}`" in said["text"] for n in names), said
        record = waves.get(bot.rt.ctx, rollout_id)
        assert record.status == "abandoned" and "superseded by 1.6.0" in record.message
        assert frontends(tenant, names) == ["1.4.0"] * 2
        events = [(e.command, e.outcome) for e in bot.rt.ctx.store.events() if e.command.startswith("rollout")]
        assert ("rollout --abandon", "abandoned") in events, events
