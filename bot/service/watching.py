"""The drift watcher's scan: findings → notice lifecycle in the store → what to tell the channel (store first)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot import metrics
from bot.domain.clients import outdated_client
from bot.domain.drift import Finding
from bot.domain.notices import Action, Notice, Verb, plan
from bot.domain.times import utcnow
from bot.errors import NotFound, RateLimited, TagpinError
from bot.service.context import Context
from bot.service.observe import Observer, Scan, finding_dict
from bot.service.ports import Told
from bot.service.rows import NoticeRow
from bot.service.views import SaidJSON, WatchJSON
from bot.service.watchregistry import WatchRegistry

log = logging.getLogger("tagpin.watch")


class Notifier(Protocol):
    """Tells a channel about a notice; returns Slack's message ts. Raises TagpinError when it cannot."""

    def post(self, notice: NoticeRow) -> str: ...

    def update(self, notice: NoticeRow) -> None: ...

    def remind(self, notice: NoticeRow) -> None: ...


@dataclass
class WatchReport:
    scanned_at: datetime
    findings: list[Finding]
    said: list[SaidJSON] = field(default_factory=list)             # what was posted, updated, reminded, resolved
    failed: list[str] = field(default_factory=list)                # Slack calls that failed (retried next scan)
    registry_errors: list[str] = field(default_factory=list)
    unknown: int = 0                                               # services this scan could not judge

    def as_dict(self) -> WatchJSON:
        return {
            "scanned_at": self.scanned_at.isoformat(), "complete": not self.unknown, "unknown": self.unknown,
            "findings": [finding_dict(f) for f in self.findings],
            "said": self.said, "failed": self.failed, "registry_errors": self.registry_errors,
        }


class _Nobody:
    """Nothing told, nothing to record: no connection held for an empty batch."""

    def posted(self, notice_id: int, ts: str) -> None: ...

    def edited(self, notice_id: int) -> None: ...


NOBODY = _Nobody()


def _domain(row: NoticeRow) -> Notice:
    assert row.id is not None
    return Notice(row.id, row.tenant, row.service, row.kind, row.running, row.target, row.ts is not None,
                  row.last_said, row.snoozed_until, row.stale)


class Watcher:
    def __init__(self, ctx: Context, notifier: Notifier) -> None:
        self.ctx, self.notifier = ctx, notifier
        self.fence: Callable[[str], None] = lambda before: None   # the watcher lease's check (bot/watch.py elects)
        self.notices = ctx.tables.notices
        self.registry = WatchRegistry(ctx.registry, ctx.settings.watch_digest_ttl)

    def client_findings(self, scan: Scan, now: datetime) -> list[Finding]:
        since = now - timedelta(seconds=self.ctx.settings.client_window)
        template = self.ctx.template()
        out = []
        for app, service in self.ctx.settings.client_apps.items():
            svc_template = next((t for t in template.services if t.name == service), None)
            if svc_template is None:
                continue
            for tenant in scan.tenants:
                running = scan.stacks.get(tenant, {}).get(service)
                tag = running.spec.tag if running is not None and running.spec is not None else None
                seen = self.notices.client_versions(tenant, app, since)
                finding = outdated_client(tenant, service, tag, svc_template.policy, seen)
                if finding is not None:
                    out.append(finding)
        return out

    def incomplete_findings(self, scan: Scan) -> list[Finding]:
        """One warning for the whole scan, not one per service, when some services could not be judged: a
        registry that rate-limits us (`registry_limited`), or one that is down or failing (`scan_incomplete`)."""
        if scan.complete:
            return []
        unknown = scan.unknown
        services = ", ".join(f"{f.tenant}/{f.service}" for f in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        limited = [e for e in scan.errors if isinstance(e, RateLimited)]
        if limited:
            return [Finding("*", "registry", "registry_limited", None, None,
                            f"the registry is rate-limiting tagpin; drift of {len(unknown)} service(s) is unknown "
                            f"until it recovers ({services}; {limited[0]})")]
        causes = "; ".join(str(e) for e in scan.errors[:3])
        return [Finding("*", "registry", "scan_incomplete", None, None,
                        f"drift unknown for {len(unknown)} service(s): {services} -- {causes}")]

    def scan_once(self, only: Collection[str] | None = None) -> WatchReport:
        """A scan of every service; `only`: of those services alone (a registry push), leaving every other
        notice as it is and the periodic scan's record and figures untouched."""
        if only is not None:
            return self._scan_once(only)
        with metrics.SCAN_SECONDS.time():
            report = self._scan_once()
        metrics.findings_by_kind([f.kind for f in report.findings])
        return report

    def _scan_once(self, only: Collection[str] | None = None) -> WatchReport:
        now = utcnow()
        self.registry.new_scan()
        if only is not None:
            self.registry.forget(t.image for t in self.ctx.template().services if t.name in only)
        scan = Observer(self.ctx).scan(registry=self.registry, only=only)
        # Per-service `unknown`s become one scan-wide notice; their open notices stay open (not seen ≠ fixed).
        unjudged = {(f.tenant, f.service) for f in scan.unknown}
        clients = [f for f in self.client_findings(scan, now) if only is None or f.service in only]
        # The registry-wide warning is the full scan's to post and resolve; a push's scan that could not judge its
        # services is tried again instead (bot/watch_events.py).
        warning = self.incomplete_findings(scan) if only is None else []
        findings = [f for f in scan.findings if f.kind != "unknown"] + clients + warning
        report = WatchReport(now, findings, registry_errors=[str(e) for e in scan.errors], unknown=len(unjudged))
        owed_rows = self.notices.owed()
        with self.notices.telling() if owed_rows else nullcontext(NOBODY) as told:
            for owed in owed_rows:
                try:
                    self.notifier.update(owed)
                    assert owed.id is not None
                    told.edited(owed.id)
                except TagpinError as exc:
                    report.failed.append(f"resolve notice #{owed.id}: {exc}")
        rows = {r.id: r for r in self.notices.open()}
        if only is not None:           # what this scan did not look at is not judged: neither resolved nor reminded
            unjudged |= {(r.tenant, r.service) for r in rows.values() if r.tenant == "*" or r.service not in only}
        remind = timedelta(seconds=self.ctx.settings.watch_remind)
        decided = [(action, self._decide(action, rows, now))
                   for action in plan([_domain(r) for r in rows.values()], findings, now, remind, unjudged)]
        self.fence("saving the scan's notices")          # a watcher that lost its lease writes nothing
        self.notices.save([row for _, row in decided])   # the store first, in one transaction: Slack loses nothing
        with self.notices.telling() if decided else nullcontext(NOBODY) as told:
            for action, row in decided:
                self._tell(action.verb, row, report, told)
        if only is not None:           # not a scan of the fleet: `tagpin drift` and readiness go by the full ones
            return report
        # The report's time is the recorded scan's, so `drift --json` and `watch --json` name the same scan.
        report.scanned_at = self.ctx.store.record_scan(len(scan.tenants), len(findings), "watch").finished_at
        return report

    def _decide(self, action: Action, rows: dict[int | None, NoticeRow], now: datetime) -> NoticeRow:
        """The notice as this action leaves it (a new one not yet stored): what it says, when it was last said."""
        f = action.finding
        row = rows[action.notice.id] if action.notice is not None else None
        if action.verb == "resolve":
            assert row is not None
            fixed = self.notices.fixing_deployment(row.tenant, row.first_seen) if row.tenant != "*" else None
            row.status, row.resolved_at = "resolved", now
            row.resolved_by = fixed.id if fixed is not None else None
        else:
            assert f is not None
            if row is None:
                row = self.notices.new(f.tenant, f.service, f.kind, self.ctx.settings.drift_channel or "", now)
            row.running, row.target, row.detail, row.last_seen = f.running, f.target, f.detail, now
            if action.verb in ("post", "remind"):
                row.last_said = now
            if action.verb == "remind":
                row.reminders += 1
        row.stale = row.ts is not None and action.verb in ("update", "resolve")
        return row

    def _tell(self, verb: Verb, row: NoticeRow, report: WatchReport, told: Told) -> None:
        """Tell Slack what the stored notice says, then record that it was told: a post's ts at once, an edit when
        the batch ends, a reminder not at all (the saved row already says when it was said)."""
        assert row.id is not None
        try:
            if verb == "post" or row.ts is None:
                if verb == "resolve":
                    return                    # never told, nothing to take back
                row.ts = self.notifier.post(row)
                told.posted(row.id, row.ts)
            elif verb == "remind":
                self.notifier.remind(row)
            else:
                self.notifier.update(row)
                told.edited(row.id)
            row.stale = False
            report.said.append({"verb": verb, "notice": row.id, "tenant": row.tenant,
                                "service": row.service, "kind": row.kind, "resolved_by": row.resolved_by})
        except TagpinError as exc:
            log.warning("could not %s notice %s: %s", verb, row.id, exc)
            report.failed.append(f"{verb} notice #{row.id}: {exc}")

def snooze(ctx: Context, notice_id: int, hours: float, actor: str) -> NoticeRow:
    """Silence a notice's reminders for a while (it is still updated and resolved); audited."""
    notice = ctx.tables.notices.snooze(notice_id, hours, actor)
    if notice is None:
        raise NotFound(f"drift notice #{notice_id} does not exist (the database was reset?)")
    ctx.store.audit(actor, "snooze", notice.tenant, "snoozed",
                    {"notice": notice_id, "kind": notice.kind, "service": notice.service, "hours": hours})
    return notice
