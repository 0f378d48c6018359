"""Pure Block Kit: every message the app sends, built from plain dicts (no I/O, no client)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from bot.service.views import AuditEventJSON, DriftJSON, ServiceStatusJSON, TenantStatusJSON
from bot.slack.layout import Page, fallback, rest_of, section, split
from bot.slack.plan_blocks import Message, offers_confirm, plan, tag

__all__ = ["Message", "audit", "drift", "error", "offers_confirm", "plan", "progress", "status",
           "text"]


def text(message: str) -> Message:
    page = Page()
    lines = message.splitlines() or [message]
    page.lines(lines, more=rest_of(lines))
    return {"text": fallback(message), "blocks": page.done()}


def error(message: str, hint: str = "") -> Message:
    # The hint is kept room for first: what to do next survives an error message of any length.
    page = Page(reserve=[section(f"_{hint}_")] if hint else [])
    pieces = split(f":warning: {message}", 1000)
    page.lines(pieces, more=rest_of(pieces))
    return {"text": fallback(f"tagpin: {message}"), "blocks": page.done()}


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
    lines = [f"*{title}*", chain, *(split(final, 1000) if final else []),
             *(f"_{piece}_" for piece in (split(detail, 1000) if detail else []))]
    page = Page()
    page.lines(lines, more=rest_of(lines))
    return {"text": fallback(f"{title}: {final or (reached[-1] if reached else 'starting')}"),
            "blocks": page.done()}


def _counts(kinds: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())


def _kinds(service: ServiceStatusJSON) -> list[str]:
    return [d["kind"] for d in service["drift"]] or ["ok"]


def _nodes(service: ServiceStatusJSON) -> str:
    """The nodes where something is wrong for this service: not ready, or its task there rejected or failed."""
    bad = [f"{t['node']} {t['node_state']}" for t in service.get("tasks", []) if t["node_state"] != "ready"]
    bad += [f"{t['node']}: {t['error'][:120]}" for t in service.get("tasks", [])
            if t["node_state"] == "ready" and t["error"] and t["state"] in ("rejected", "failed")]
    return f" · nodes: {'; '.join(bad[:3])}" + (f" (+{len(bad) - 3})" if len(bad) > 3 else "") if bad else ""


def status(data: TenantStatusJSON) -> Message:
    tenant, services = data["tenant"], data["services"]
    # Services with drift first: what is cut for room is what is fine, and the summary counts it anyway.
    ordered = sorted(services, key=lambda s: not s["drift"])
    kinds = Counter(k for s in services for k in _kinds(s))
    head = f"*Status of `{tenant}`* · {len(services)} service(s): {_counts(kinds)}"
    if not data["complete"]:
        head = (f":large_yellow_circle: {head}\nIncomplete: {data['unknown']} service(s) "
                "could not be judged, so this is no all-clear.")
    for frozen in data.get("freezes", []):
        head += f"\n:snowflake: {frozen}"
    lines = []
    for s in ordered:
        replicas = f"{s['replicas']['running']}/{s['replicas']['desired']}"
        spec = tag(s["spec_reference"]) if s["spec_reference"] else "not running"
        best = s["available"]["tag"] if s["available"] else "?"
        lines.append(f"• `{s['name']}` {spec} ({replicas}) · newest allowed {best}{_nodes(s)} · "
                     f"{', '.join(_kinds(s))}")
    page = Page()
    page.lines([head])
    notes = sorted({s["registry_note"] for s in services if s["registry_note"]})

    def hidden(n: int) -> str:
        rest = Counter(k for s in ordered[len(ordered) - n:] for k in _kinds(s))
        return f"…and {n} more service(s) ({_counts(rest)}); the whole status: `tagpin status {tenant}`"

    page.reserve = _notes_room(notes)
    page.lines(lines, more=hidden)
    page.reserve = []
    page.context([f"registry: {n}" for n in notes], more=lambda n: f"…and {n} more registry note(s)")
    return {"text": fallback(head.replace("*", "")), "blocks": page.done()}


def _notes_room(notes: Sequence[str]) -> list[dict[str, Any]]:
    """Room kept for the registry notes while the list above them fills: what went wrong is never crowded out."""
    size = min(sum(len(n) + 13 for n in notes), 4000)
    return [section("x" * size)] if notes else []


def drift(data: DriftJSON) -> Message:
    findings, tenants = data["findings"], data["tenants"]
    kinds: Counter[str] = Counter(f["kind"] for f in findings)
    complete = data["complete"]
    if not findings and complete:
        head = f":large_green_circle: no drift in {len(tenants)} tenant(s)"
    else:
        icon = ":large_orange_circle:" if complete else ":large_yellow_circle:"
        head = f"{icon} *{len(findings)} finding(s)* in {len(tenants)} tenant(s)" + (
            f": {_counts(kinds)}" if findings else "")
        if not complete:
            head += (f"\nIncomplete: {data['unknown']} service(s) could not be judged, "
                     "so this is no all-clear.")
    lines = [f"• `{f['tenant']}/{f['service']}` *{f['kind']}*: {f['detail'] or ''}".rstrip(": ") for f in findings]
    watcher = data["watcher_scan_at"]
    facts = [f"the watcher's last scan: {watcher[:16].replace('T', ' ')} UTC" if watcher
             else "the watcher has not scanned yet"]
    notes = [f"registry: {note}" for note in data["registry_notes"]]

    def hidden(n: int) -> str:
        rest: Counter[str] = Counter(f["kind"] for f in findings[len(findings) - n:])
        return f"…and {n} more finding(s) ({_counts(rest)}); the whole list: `tagpin drift --json`"

    page = Page()
    page.lines([head])
    page.reserve = _notes_room(notes)
    page.lines(lines, more=hidden)
    page.reserve = []
    page.context(facts + notes, more=lambda n: f"…and {n} more registry note(s); `tagpin drift --json` has them")
    return {"text": fallback(head.replace("*", "")), "blocks": page.done()}


def audit(events: Sequence[AuditEventJSON], tenant: str | None) -> Message:
    title = f"*Audit trail{f' of `{tenant}`' if tenant else ''}* (newest first)"
    lines = [f"• {e['at'][:16].replace('T', ' ')} {e['actor']} `{e['command']}` "
             f"{e['tenant'] or ''} → {e['outcome']}" for e in events] or ["nothing recorded yet"]
    page = Page()
    page.lines([title])
    page.lines(lines, more=lambda n: f"…and {n} older event(s); `tagpin audit{f' {tenant}' if tenant else ''} "
                                     f"--limit {len(events)}` shows them all")
    return {"text": fallback(title.replace("*", "")), "blocks": page.done()}
