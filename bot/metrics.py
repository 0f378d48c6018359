"""Every Prometheus metric the bot and the watcher export (names tagpin_*), in one registry of their own.

Under the production server (`tagpin bot` over HTTP: acknowledging processes and a job worker) every process
writes its samples to PROMETHEUS_MULTIPROC_DIR, which `tagpin bot` sets before any of them imports this module,
and /metrics on any of them reads them all (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

# Its own registry, not the client's global one: the recovery service (independent of the bot) keeps its own,
# and a test process that imports both must not mix them.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

DEPLOYS = Counter("tagpin_deploys", "Deploys and rollbacks by how they ended.", ["command", "outcome"],
                  registry=REGISTRY)
# A converge takes seconds to minutes (TAGPIN_CONVERGE_TIMEOUT defaults to 120 s).
DEPLOY_SECONDS = Histogram("tagpin_deploy_duration_seconds", "Wall time of a deploy or rollback, lease to result.",
                           ["command", "outcome"], registry=REGISTRY,
                           buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600))
# A gauge's value across processes: the one set last (the watcher's run alone; a scrape-time count is any
# acknowledging process's).
LAST: Final = "mostrecent"
DRIFT_FINDINGS = Gauge("tagpin_drift_findings", "Findings of the watcher's last completed scan, by kind.", ["kind"],
                       registry=REGISTRY, multiprocess_mode=LAST)
SCANS = Counter("tagpin_watch_scans", "Watcher scans: ok, incomplete (some services unjudged) or failed.",
                ["result"], registry=REGISTRY)
SCAN_SECONDS = Histogram("tagpin_watch_scan_duration_seconds", "Wall time of one watcher scan.", registry=REGISTRY,
                         buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
LAST_SCAN_AGE = Gauge("tagpin_last_scan_age_seconds", "Seconds since the watcher's last completed scan (NaN: none "
                      "yet).", registry=REGISTRY, multiprocess_mode=LAST)
REGISTRY_REQUESTS = Counter("tagpin_registry_requests", "HTTP requests to registries by kind and status ('error': "
                            "no answer).", ["kind", "status"], registry=REGISTRY)
ENGINE_CALLS = Counter("tagpin_engine_calls", "Docker Engine API calls and docker CLI runs by call and result.",
                       ["call", "result"], registry=REGISTRY)
SLACK_CALLS = Counter("tagpin_slack_api_calls", "Slack Web API calls by method (after the SDK's retries).",
                      ["method"], registry=REGISTRY)
SLACK_ERRORS = Counter("tagpin_slack_api_errors", "Slack Web API calls that failed, by method and error.",
                       ["method", "error"], registry=REGISTRY)
# Slack gives an acknowledgement 3 s; the target is p99 ≤ 50 ms, so the buckets are fine below 100 ms.
ACK_SECONDS = Histogram("tagpin_slack_ack_seconds", "From a Slack request's arrival to the bot's acknowledgement.",
                        ["status"], registry=REGISTRY,
                        buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2, 3, 5))
OUTBOX_BACKLOG = Gauge("tagpin_outbox_backlog", "Audit-trail messages stored but not yet posted to Slack.",
                       registry=REGISTRY, multiprocess_mode=LAST)
JOBS_BACKLOG = Gauge("tagpin_slack_jobs_backlog", "Acknowledged Slack requests whose work no job worker has taken yet.",
                     registry=REGISTRY, multiprocess_mode=LAST)
SLACK_JOBS = Counter("tagpin_slack_jobs", "Acknowledged Slack requests whose work a job worker ran, by command or "
                     "action.", ["request"], registry=REGISTRY)
SLACK_JOBS_ABANDONED = Counter("tagpin_slack_jobs_abandoned", "Acknowledged Slack requests whose job worker stopped "
                               "while running them: swept out, their users told, never run again; by command or "
                               "action.", ["request"], registry=REGISTRY)
WATCH_ACTIVE = Gauge("tagpin_watch_active", "1 while this watcher holds the watcher lease (the one that scans and "
                     "posts), 0 while it stands by.", registry=REGISTRY, multiprocess_mode=LAST)
REGISTRY_EVENTS = Counter("tagpin_registry_events_received", "Events in the registry notifications the watcher took "
                          "(POST /registry/events, token accepted, envelope well-formed).", registry=REGISTRY)
REGISTRY_EVENTS_HANDLED = Counter("tagpin_registry_events", "Registry events by what came of them: accepted (a tag "
                                  "of a repository the template uses was pushed or deleted: a scan is due) or "
                                  "ignored (a pull, a blob, an untagged manifest, another repository).", ["result"],
                                  registry=REGISTRY)
REGISTRY_EVENT_POSTS = Counter("tagpin_registry_event_requests", "POST /registry/events by HTTP status (202 taken, "
                               "400 malformed, 401 bad token, 404 off, 413 too large, 415 not an envelope, 503 store "
                               "down).", ["status"], registry=REGISTRY)
EVENT_SCANS = Counter("tagpin_watch_event_scans", "Scans of the services a registry push concerned, outside the "
                      "interval, by result.", ["result"], registry=REGISTRY)
READY = Gauge("tagpin_ready", "1 when the readiness check passes, 0 when it fails, by check.", ["check"],
              registry=REGISTRY, multiprocess_mode=LAST)
LAST_SCAN_AGE.set(float("nan"))
OUTBOX_BACKLOG.set(float("nan"))
JOBS_BACKLOG.set(float("nan"))


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type: every process's samples in multiprocess mode
    (the scraping process's own are among them, written to the same directory)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        ProcessCollector(registry=merged)            # process_*: the process that answers the scrape
        PlatformCollector(registry=merged)
        return generate_latest(merged), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def findings_by_kind(kinds: list[str]) -> None:
    """Set the gauge to this scan's counts; a kind the scan no longer finds goes to 0, not stale."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    for metric in DRIFT_FINDINGS.collect():
        for sample in metric.samples:
            counts.setdefault(sample.labels["kind"], 0)
    for kind, count in counts.items():
        DRIFT_FINDINGS.labels(kind=kind).set(count)
