"""Plain-text renderings of command results for people at a terminal (the JSON is for tools)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.service.results import DeployJSON
from bot.service.views import AuditJSON, DriftJSON, FindingJSON, TenantsJSON, TenantStatusJSON, WatchJSON


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def short(reference: str | None) -> str:
    """repo:tag@sha256:abcdef123456… → repo:tag@sha256:abcdef123456 (12 hex digits are enough to read)."""
    if not reference:
        return "-"
    head, sep, digest = reference.partition("@sha256:")
    return f"{head}@sha256:{digest[:12]}" if sep else reference


def resolve(data: dict[str, Any]) -> str:
    lines = [f"{data['image']} → {data['tag']}", f"  reference  {data['reference']}"]
    lines.append("  candidates " + (", ".join(c["tag"] for c in data["candidates"][:10]) or "-")
                 + (f" (+{len(data['candidates']) - 10} more)" if len(data["candidates"]) > 10 else ""))
    for r in data["rejected"][:20]:
        lines.append(f"  rejected   {r['tag']}: {r['reason']}")
    if len(data["rejected"]) > 20:
        lines.append(f"  rejected   … {len(data['rejected']) - 20} more (use --json for all)")
    if data.get("current_note"):
        lines.append(f"  note       {data['current_note']}")
    return "\n".join(lines)


def deploy(data: DeployJSON) -> str:
    rows = [[s["name"], short(s["from"]), short(s["to"]), ", ".join(s["flags"])] for s in data["services"]]
    head = f"{data['tenant']}: {data['outcome']}"
    if data["deployment_id"]:
        head += f" (deployment #{data['deployment_id']}"
        head += f", {data['seconds']} s)" if data["seconds"] is not None else ")"
    out = [head, table(rows, ["SERVICE", "FROM", "TO", "FLAGS"])]
    if data["risks"]:
        out.append("risks: " + "; ".join(data["risks"]))
    if data["message"]:
        out.append(data["message"])
    return "\n".join(out)


def status(data: TenantStatusJSON) -> str:
    rows = []
    for s in data["services"]:
        avail = s["available"]["tag"] if s["available"] else "unknown"
        kinds = ", ".join(d["kind"] for d in s["drift"]) or "ok"
        rows.append([s["name"], short(s["spec_reference"]), f"{s['replicas']['running']}/{s['replicas']['desired']}",
                     avail, kinds])
    notes = [f"{s['name']}: {s['registry_note']}" for s in data["services"] if s["registry_note"]]
    head = data["tenant"] if data["complete"] else f"{data['tenant']}: {incomplete(data)}"
    said = [f"reconciled {line}" for line in data["reconciled"]]
    return "\n".join([head, table(rows, ["SERVICE", "PINNED", "RUNNING", "AVAILABLE", "DRIFT"]), *tasks(data),
                      *notes, *said, *data.get("freezes", [])])


def tasks(data: TenantStatusJSON) -> list[str]:
    """Per service, each node's task with the digest Swarm runs there: the nodes that run or should run it, and any
    node that is not ready or whose task failed (a node's history of moved tasks is left to --json)."""
    rows = []
    for s in data["services"]:
        for t in s.get("tasks", []):
            if t["desired"] != "running" and not t["error"] and t["node_state"] == "ready":
                continue
            node = t["node"] + ("" if t["availability"] == "active" else f" ({t['availability']})")
            rows.append([s["name"], node, t["node_state"], t["state"], (t["digest"] or "-")[:19], t["error"] or ""])
    return [table(rows, ["SERVICE", "NODE", "NODE STATE", "TASK", "DIGEST", "ERROR"])] if rows else []


def incomplete(data: TenantStatusJSON | DriftJSON) -> str:
    """The headline of a scan that could not judge every service: never 'no drift', never 'ok'."""
    count = data["unknown"]
    return f"drift unknown for {count} service{'s' if count != 1 else ''} (the registry could not say)"


def findings(items: list[FindingJSON], notes: list[str]) -> list[str]:
    """The findings table (or nothing) and one line per registry note: shared by drift and watch."""
    rows = [[f["tenant"], f["service"], f["kind"], f["detail"]] for f in items]
    return ([table(rows, ["TENANT", "SERVICE", "KIND", "DETAIL"])] if rows else []) + [f"registry: {n}" for n in notes]


def drift(data: DriftJSON) -> str:
    head = ([incomplete(data)] if not data["complete"]
            else [] if data["findings"] else [f"no drift in {len(data['tenants'])} tenant(s)"])
    out = head + findings(data["findings"], data["registry_notes"])
    out.append(f"scanned at {data['scanned_at']}; previous scan: {data['previous_scan_at'] or 'never'}; "
               f"the watcher's last scan: {data['watcher_scan_at'] or 'never'}")
    return "\n".join(out)


def audit(data: AuditJSON) -> str:
    rows = [[str(e["id"]), e["at"], e["actor"], e["command"], e["tenant"] or "-", e["outcome"],
             (e["detail"] or "")[:70]] for e in data["events"]]
    return table(rows, ["ID", "AT", "ACTOR", "COMMAND", "TENANT", "OUTCOME", "DETAIL"]) if rows else "no events"


def tenants(data: TenantsJSON) -> str:
    rows = [[t["name"], t["created_at"], t["created_by"],
             ",".join(f"{k}={v}" for k, v in sorted(t["labels"].items())) or "-",
             ", ".join(f"{h['service']} {h['range']}" for h in t["holds"]) or "-",
             ", ".join(f"{f['name']} {f['window']}" for f in t["freezes"]) or "-"] for t in data["tenants"]]
    return table(rows, ["TENANT", "CREATED", "BY", "LABELS", "HOLDS", "FREEZES"]) if rows else "no tenants yet"


def freeze(data: Mapping[str, Any]) -> str:
    f = data["freeze"]
    out = [f"{data['tenant']}: frozen in {f['name']} ({f['window']}): {f['reason']}"]
    if data["active_until"]:
        out.append(f"in force now, until {data['active_until']}")
    if data["replaced"]:
        out.append(f"replaces {data['replaced']['window']} by {data['replaced']['by']}")
    return "\n".join(out)


def unfreeze(data: Mapping[str, Any]) -> str:
    return "\n".join(f"{data['tenant']}: freeze {f['name']} ({f['window']}) lifted (set by {f['by']}: {f['reason']})"
                     for f in data["lifted"])


def labels(data: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(data["labels"].items())) or "none"
    return f"{data['tenant']}: labels {shown}"


def hold(data: Mapping[str, Any]) -> str:
    h = data["hold"]
    out = [f"{data['tenant']}: {h['service']} held at {h['range']} ({h['reason']})"]
    if data["replaced"]:
        out.append(f"replaces the hold at {data['replaced']['range']} by {data['replaced']['by']}")
    if data["warning"]:
        out.append(f"warning: {data['warning']}")
    return "\n".join(out)


def rollout(data: Mapping[str, Any]) -> str:
    def tag(reference: str | None) -> str:
        return reference.split("@")[0].rsplit(":", 1)[-1] if reference else "nothing"

    moving = sum(len(w["tenants"]) for w in data["waves"])
    out = [f"rollout plan {data['digest'][:12]}: {moving} tenant(s) in {len(data['waves'])} wave(s) "
           f"({data['wave_spec']}), {len(data['skipped'])} skipped; {data['registry_requests']} registry request(s)"]
    for wave in data["waves"]:
        out.append(f"wave {wave['wave']}:")
        for t in wave["tenants"]:
            changes = ", ".join(f"{c['service']} {tag(c['from'])} → {tag(c['to'])}" for c in t["changes"])
            out.append(f"  {t['tenant']}: {changes}" + "".join(f"; {h}" for h in t["held"]))
    out.extend(f"skipped {s['tenant']}: {s['skipped']}" for s in data["skipped"])
    out.extend(f"risk: {r}" for r in data["risks"])
    out.extend(f"frozen: {f}" for f in data.get("freezes", []))
    return "\n".join(out)


def rolled_out(data: Mapping[str, Any]) -> str:
    out = [f"rollout #{data['rollout_id']} ({data['digest'][:12]}){' resumed' if data['resumed'] else ''}: "
           f"{data['outcome']} -- {data['message']}"]
    out.extend(f"  wave {r['wave']}: {r['tenant']} {r['outcome']}" + (f" -- {r['message']}" if r["message"] else "")
               for r in data["results"])
    if data["untouched"]:
        out.append(f"not reached (untouched): {', '.join(data['untouched'])}")
    out.extend(f"skipped {s['tenant']}: {s['skipped']}" for s in data["skipped"])
    return "\n".join(out)


def rollouts(data: Mapping[str, Any]) -> str:
    if not data["rollouts"]:
        return "no rollout yet: tagpin rollout --dry-run plans one"
    out = []
    for r in data["rollouts"]:
        c = r["counts"]
        services = ", ".join(r["services"]) if isinstance(r["services"], list) else r["services"]
        at = f", at wave {r['wave']} of {r['wave_count']}" if r["wave"] else ""
        out.append(f"#{r['id']} {r['status']}{at}: {services} by {r['actor']}, started {r['started_at'][:19]}; "
                   f"{c['converged']} converged, {c['failed']} failed, {c['running']} running, "
                   f"{c['waiting']} waiting" + (f" -- {r['message']}" if r["message"] else ""))
        if r["status"] == "interrupted":
            out.append(f"  resume: tagpin rollout --resume {r['id']}   give up: tagpin rollout --abandon {r['id']} "
                       "--reason …")
        for step in r.get("steps", []):
            outcome = f" {step['outcome']}" if step["outcome"] else ""
            deployment = f" (deployment #{step['deployment_id']})" if step["deployment_id"] else ""
            out.append(f"  wave {step['wave']}: {step['tenant']} {step['state']}{outcome}{deployment}"
                       + (f" -- {step['message']}" if step["message"] else ""))
    return "\n".join(out)


def unhold(data: Mapping[str, Any]) -> str:
    h = data["lifted"]
    return f"{data['tenant']}: hold on {h['service']} at {h['range']} lifted (it was held by {h['by']}: {h['reason']})"


def watch(data: WatchJSON) -> str:
    out = findings(data["findings"], data["registry_errors"]) if data["findings"] else ["no drift"]
    out.extend(f"{s['verb']}: {s['tenant']}/{s['service']} {s['kind']} (notice #{s['notice']})" for s in data["said"])
    out.extend(f"not said (retried next scan): {f}" for f in data["failed"])
    out.append(f"scanned at {data['scanned_at']}; {len(data['said'])} message(s) to the channel")
    return "\n".join(out)


def migration(data: Mapping[str, Any]) -> str:
    if data["up_to_date"]:
        return f"{data['database']}: up to date (schema revision {data['to']})"
    out = [f"{data['database']}: schema revision {data['from'] or 'none (empty database)'} → {data['to']}"]
    if data["adopted"]:
        out.append(f"  adopted: a database made before Alembic, recorded as revision {data['from']}, data untouched")
    if data["applied"]:
        out.append(f"  applied: {', '.join(data['applied'])}")
    return "\n".join(out)
