"""Block Kit for a deploy plan (pure): every risk above the Confirm button, or no Confirm button at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.plans import PlanJSON, PlanServiceJSON
from bot.service.pending import TTL
from bot.slack.layout import Block, More, Page, fallback, section

Message = dict[str, Any]


def tag(reference: str) -> str:
    """The tag and a short digest of a pinned reference, which is what a human compares."""
    name, _, digest = reference.partition("@")
    tag = name.rsplit(":", 1)[-1] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{tag}@{digest.split(':')[-1][:12]}" if digest else tag


def _change(service: PlanServiceJSON) -> str:
    flags = ", ".join(f for f in service.get("flags", []) if f != "new_tenant")
    before = service.get("from") or "nothing"
    after = service.get("to") or "removed"
    return f"• `{service['name']}` {tag(before)} → {tag(after)} ({flags})"


def buttons(question: str, digest: str, confirm_id: str, risks: list[str], go: str = "Deploy") -> list[Block]:
    """Confirm (behind Slack's own dialog, which repeats the risks) and Cancel, bound to one parked plan."""
    said = "This plan is risky: " + "; ".join(risks)
    dialog = {"title": {"type": "plain_text", "text": question[:100]},
              "text": {"type": "mrkdwn", "text": said if len(said) <= 300
                       else f"This plan has {len(risks)} risks, every one listed above the button. {go} anyway?"},
              "confirm": {"type": "plain_text", "text": go},
              "deny": {"type": "plain_text", "text": "Back"}, "style": "danger"}
    return [{"type": "actions", "block_id": "tagpin_confirm", "elements": [
                {"type": "button", "action_id": "tagpin_confirm", "style": "danger", "value": confirm_id,
                 "text": {"type": "plain_text", "text": "Confirm"}, "confirm": dialog},
                {"type": "button", "action_id": "tagpin_cancel", "value": confirm_id,
                 "text": {"type": "plain_text", "text": "Cancel"}}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                f"Plan {digest[:12]} · only the requester can confirm · expires in {TTL / 60:g} min")}]}]


def risks_first(page: Page, must: Sequence[str], confirm_id: str | None, no_button: str, more: More) -> bool:
    """Every risk line above the buttons the page keeps room for -- or, when they do not all fit, no buttons: the
    page says why (`no_button`) and shows what fits. True when the buttons stay."""
    if page.lines(must):
        return True
    page.reserve = []
    if confirm_id is not None:
        page.lines([f":no_entry_sign: *No Confirm button*: {no_button}"])
    page.lines(must, more=more)
    return False


def plan(data: PlanJSON, *, confirm_id: str | None = None, notice: str = "", notes: Sequence[str] = ()) -> Message:
    """A plan (Plan.as_dict()), with Confirm/Cancel when it needs a human; confirm opens Slack's own dialog.

    Risks and risky services are never cut above a Confirm button: when they cannot all fit in one message,
    the button is not offered and the message says how to go on instead."""
    tenant = data["tenant"]
    services = list(data.get("services", []))
    risks = list(data.get("risks") or [])
    # A service is risky when a risk names it ("frontend: major jump …"): the plan decides what is risky (a deploy and
    # a rollback differ), this only shows it.
    risky = [s for s in services if any(r.startswith(f"{s['name']}: ") for r in risks)]
    # Changes before unchanged services: what is cut for room is what changes least.
    rest = sorted((s for s in services if s not in risky), key=lambda s: "unchanged" in s.get("flags", []))
    changing = sum(1 for s in services if s.get("flags") != ["unchanged"])
    head = (f"*Deploy plan for `{tenant}`*" + (" (new tenant)" if data.get("new_tenant") else "")
            + f" · {len(services)} service(s), {changing} changing")
    must = ([f":warning: *{len(risks)} risk(s) to confirm:*", *(f"• {r}" for r in risks)] if risks else [])
    must += [_change(s) for s in risky]
    whole = f"the whole plan: `tagpin deploy {tenant} --dry-run`"

    def summary(n: int) -> str:
        unchanged = sum(1 for s in rest[len(rest) - n:] if "unchanged" in s.get("flags", []))
        return (f"…and {n} more service(s) without risks ({n - unchanged} changing, {unchanged} unchanged); "
                f"{whole}")

    offered = (buttons(f"Deploy {data['tenant']}?", data["digest"], confirm_id, risks)
                if confirm_id is not None else [])
    # Room for the summary of every unrisky service is kept while the risks are placed, so that line is never lost.
    page = Page(reserve=[section(summary(len(rest))), *offered] if rest else offered)
    if notice:
        page.lines([f":arrows_counterclockwise: {notice}"])
    page.lines([head])
    no_button = (f"this plan's {len(risks)} risk(s) on {len(risky)} service(s) do not fit in one Slack message, "
                 f"and a plan is confirmed here only with every risk in view. Narrow it (`/deploy {tenant} "
                 f"SERVICE@VERSION …`), or read `tagpin deploy {tenant} --dry-run` and deploy with "
                 f"`tagpin deploy {tenant} --yes`.")
    if risks_first(page, must, confirm_id, no_button, more=lambda n: f"…and {n} more risk line(s) and {len(rest)} "
                                                                      f"service(s) without risks not shown; {whole}"):
        page.reserve = offered
        page.lines([_change(s) for s in rest], more=summary)
    # What shaped the plan besides the policy (a tenant's holds, a tag deleted while resolving): after the risks,
    # which are never crowded out by it.
    page.context(list(notes), more=lambda n: f"…and {n} more note(s); {whole}")
    title = f"Deploy plan for {tenant}: " + (f"{len(risks)} risk(s): " + "; ".join(risks) if risks else "no risks")
    return {"text": fallback(title), "blocks": page.done()}


def offers_confirm(message: Message) -> bool:
    """Whether a plan message carries the Confirm button (it does not when its risks could not all be shown)."""
    return any(b.get("block_id") == "tagpin_confirm" for b in message.get("blocks", []))
