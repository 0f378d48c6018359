"""Block Kit for a fleet rollout (pure): its plan, with every risk above the Confirm button or no button at all,
and the one progress message edited in place, a line per wave."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.slack.layout import Page, fallback, rest_of
from bot.slack.plan_blocks import Message, buttons, risks_first, tag

WHOLE = "the whole plan: `tagpin rollout --dry-run` with the same arguments"


def _what(data: Mapping[str, Any]) -> str:
    services = data["services"]
    if services == "all":
        return "every service"
    return ", ".join(f"{name}@{version}" if version else name for name, version in sorted(services.items()))


def _tenant(t: Mapping[str, Any]) -> str:
    changes = ", ".join(f"`{c['service']}` {tag(c['from'] or 'nothing')} → {tag(c['to'])}" for c in t["changes"])
    return f"• `{t['tenant']}`: {changes}"


def fleet_plan(data: Mapping[str, Any], *, confirm_id: str | None = None, notice: str = "") -> Message:
    """A FleetPlan.as_dict(): the risks first (all of them above a Confirm button, or no button), then the waves
    and their tenants as far as they fit, then who is skipped and why."""
    waves = data["waves"]
    moving = sum(len(w["tenants"]) for w in waves)
    risks = list(data["risks"])
    head = (f"*Rollout plan for {_what(data)}* · {moving} tenant(s) in {len(waves)} wave(s) ({data['wave_spec']}), "
            f"{len(data['skipped'])} skipped · plan {data['digest'][:12]}")
    must = [f":warning: *{len(risks)} risk(s) to confirm:*", *(f"• {r}" for r in risks)] if risks else []
    offered = (buttons(f"Roll out to {moving} tenant(s)?", data["digest"], confirm_id, risks, go="Roll out")
               if confirm_id is not None else [])
    page = Page(reserve=offered)
    if notice:
        page.lines([f":arrows_counterclockwise: {notice}"])
    page.lines([head])
    risks_first(page, must, confirm_id, f"this plan's {len(risks)} risk(s) do not fit in one Slack message, and a "
                "plan is confirmed here only with every risk in view. Narrow it (`--tenants`, `--label`, "
                "`SERVICE@VERSION`), or roll it out with `tagpin rollout … --yes`.",
                more=lambda n: f"…and {n} more risk line(s) not shown; {WHOLE}")
    lines = [line for n, wave in enumerate(waves, 1)
             for line in (f"*Wave {n}* ({len(wave['tenants'])} tenant(s))", *(_tenant(t) for t in wave["tenants"]))]
    if not waves:
        lines = ["Nothing to roll out: every selected tenant is skipped."]
    page.lines(lines, more=lambda n: f"…and {n} more line(s); {WHOLE}")
    page.context([f"skipped `{s['tenant']}`: {s['skipped']}" for s in data["skipped"]],
                 more=lambda n: f"…and {n} more skipped; {WHOLE}")
    title = f"Rollout plan for {_what(data)}: {moving} tenant(s), " + (f"{len(risks)} risk(s)" if risks else "no risks")
    return {"text": fallback(title), "blocks": page.done()}


MARK = {"converged": ":white_check_mark:", "running": ":hourglass_flowing_sand:", "waiting": ":white_circle:"}


def board(title: str, waves: Sequence[Sequence[str]], states: Mapping[str, tuple[str, str]],
          final: str | None = None) -> Message:
    """The rollout's progress: per wave done / running / failed / waiting, the tenants that failed named with
    what their deploy said. `states`: tenant -> (running | converged | any other outcome, message)."""
    lines = [f"*{title}*"]
    for n, wave in enumerate(waves, 1):
        outcomes = [states.get(t, ("waiting", ""))[0] for t in wave]
        failed = [t for t in wave if states.get(t, ("waiting", ""))[0] not in MARK]
        done = outcomes.count("converged")
        if failed:
            word = f":red_circle: failed ({done}/{len(wave)} converged)"
        elif done == len(wave):
            word = f"{MARK['converged']} done ({done}/{len(wave)})"
        elif "running" in outcomes or done:
            word = f"{MARK['running']} running ({done}/{len(wave)} converged, {outcomes.count('running')} deploying)"
        else:
            word = f"{MARK['waiting']} waiting ({len(wave)} tenant(s))"
        lines.append(f"Wave {n}: {word}")
        lines.extend(f"    • `{t}` {states[t][0]}" + (f": {states[t][1]}" if states[t][1] else "") for t in failed)
    if final:
        lines.append(final)
    page = Page()
    page.lines(lines, more=rest_of(lines))
    return {"text": fallback(f"{title}: {final or 'rolling out'}"), "blocks": page.done()}

