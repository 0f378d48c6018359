"""Pure Block Kit: every message the app sends, built from plain dicts (no I/O, no client)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Message = dict[str, Any]
LIMIT = 2900            # a section's text may hold 3,000 characters


def _section(text: str) -> dict[str, Any]:
    if len(text) > LIMIT:
        text = text[:LIMIT] + "\n…(truncated)"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:LIMIT]}]}


def text(message: str) -> Message:
    return {"text": message, "blocks": [_section(message)]}


def error(message: str, hint: str = "") -> Message:
    body = f":warning: {message}" + (f"\n_{hint}_" if hint else "")
    return {"text": f"tagpin: {message}", "blocks": [_section(body)]}


def _change(service: dict[str, Any]) -> str:
    flags = ", ".join(f for f in service.get("flags", []) if f != "new_tenant")
    before = service.get("from") or "nothing"
    after = service.get("to") or "removed"
    return f"• `{service['name']}` {_tag(before)} → {_tag(after)} ({flags})"


def _tag(reference: str) -> str:
    """The tag and a short digest of a pinned reference, which is what a human compares."""
    name, _, digest = reference.partition("@")
    tag = name.rsplit(":", 1)[-1] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{tag}@{digest.split(':')[-1][:12]}" if digest else tag


def plan(data: dict[str, Any], *, confirm_id: str | None = None, notice: str = "") -> Message:
    """A plan (Plan.as_dict()), with Confirm/Cancel when it needs a human; confirm opens Slack's own dialog."""
    tenant = data["tenant"]
    lines = [f"*Deploy plan for `{tenant}`*" + (" (new tenant)" if data.get("new_tenant") else "")]
    lines += [_change(s) for s in data.get("services", [])]
    blocks = ([_section(f":arrows_counterclockwise: {notice}")] if notice else []) + [_section("\n".join(lines))]
    risks = data.get("risks") or []
    if risks:
        blocks.append(_context(":warning: " + " · ".join(risks)))
    if confirm_id is not None:
        dialog = {"title": {"type": "plain_text", "text": f"Deploy {tenant}?"[:100]},
                  "text": {"type": "mrkdwn", "text": ("This plan is risky: " + "; ".join(risks))[:300]},
                  "confirm": {"type": "plain_text", "text": "Deploy"},
                  "deny": {"type": "plain_text", "text": "Back"}, "style": "danger"}
        blocks.append({"type": "actions", "block_id": "tagpin_confirm", "elements": [
            {"type": "button", "action_id": "tagpin_confirm", "style": "danger", "value": confirm_id,
             "text": {"type": "plain_text", "text": "Confirm"}, "confirm": dialog},
            {"type": "button", "action_id": "tagpin_cancel", "value": confirm_id,
             "text": {"type": "plain_text", "text": "Cancel"}}]})
        blocks.append(_context(f"Plan {data['digest'][:12]} · only the requester can confirm · expires in 10 min"))
    summary = f"Deploy plan for {tenant}: " + ("; ".join(risks) if risks else "no risks")
    return {"text": summary, "blocks": blocks}


STEPS = ("resolving", "applying", "verifying")


def progress(title: str, reached: Sequence[str], detail: str = "", final: str | None = None) -> Message:
    """One message, updated in place: resolving → applying → verifying → result."""
    marks = []
    for step in STEPS:
        if step in reached and (final is not None or step != reached[-1]):
            marks.append(f":white_check_mark: {step}")
        elif step in reached:
            marks.append(f":hourglass_flowing_sand: {step}…")
        else:
            marks.append(f":white_circle: {step}")
    chain = "  →  ".join(marks)
    body = f"*{title}*\n{chain}" + (f"\n{final}" if final else "") + (f"\n_{detail}_" if detail else "")
    return {"text": f"{title}: {final or (reached[-1] if reached else 'starting')}", "blocks": [_section(body)]}


def outcome_line(data: dict[str, Any]) -> str:
    icon = {"converged": ":large_green_circle:", "planned": ":memo:"}.get(data["outcome"], ":red_circle:")
    where = f" (deployment #{data['deployment_id']})" if data.get("deployment_id") else ""
    seconds = f" in {data['seconds']} s" if data.get("seconds") is not None else ""
    return f"{icon} *{data['outcome']}*{where}{seconds}" + (f": {data['message']}" if data.get("message") else "")


def status(data: dict[str, Any]) -> Message:
    lines = [f"*Status of `{data['tenant']}`*"]
    for s in data["services"]:
        replicas = f"{s['replicas']['running']}/{s['replicas']['desired']}"
        spec = _tag(s["spec_reference"]) if s.get("spec_reference") else "not running"
        best = (s.get("available") or {}).get("tag") or "?"
        drift = ", ".join(d["kind"] for d in s.get("drift", [])) or "ok"
        lines.append(f"• `{s['name']}` {spec} ({replicas}) · newest allowed {best} · {drift}")
    return {"text": f"Status of {data['tenant']}", "blocks": [_section("\n".join(lines))]}


def _scan_context(data: dict[str, Any]) -> dict[str, Any]:
    watcher = data.get("watcher_scan_at")
    facts = [f"the watcher's last scan: {watcher[:16].replace('T', ' ')} UTC" if watcher
             else "the watcher has not scanned yet"]
    facts += [f"registry: {note}" for note in data.get("registry_notes", [])]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]}


def drift(data: dict[str, Any]) -> Message:
    findings = data["findings"]
    if not findings:
        head = f":large_green_circle: no drift in {len(data['tenants'])} tenant(s)"
        return {"text": head, "blocks": [_section(head), _scan_context(data)]}
    lines = [f":large_orange_circle: *{len(findings)} finding(s)*"]
    lines += [f"• `{f['tenant']}/{f['service']}` *{f['kind']}*: {f['detail'] or ''}".rstrip(": ")
              for f in findings]
    return {"text": f"{len(findings)} drift finding(s)",
            "blocks": [_section("\n".join(lines)), _scan_context(data)]}


def audit(events: Sequence[dict[str, Any]], tenant: str | None) -> Message:
    title = f"*Audit trail{f' of `{tenant}`' if tenant else ''}* (newest first)"
    lines = [title] + [f"• {e['at'][:16].replace('T', ' ')} {e['actor']} `{e['command']}` "
                       f"{e['tenant'] or ''} → {e['outcome']}" for e in events]
    if not events:
        lines.append("nothing recorded yet")
    return {"text": title.strip("*"), "blocks": [_section("\n".join(lines))]}
