"""The bolt app: Web API client with retry handlers, middleware, listeners; in one process (Socket Mode, the shell)
or split between acknowledging HTTP processes and a job worker (bot.slack.server)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Literal

from flask import Flask, Response, request
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from werkzeug.exceptions import HTTPException

from bot import health, metrics
from bot.config import Settings
from bot.errors import ChatError, UsageError
from bot.service import stopping
from bot.service.confirmations import seen_requests
from bot.service.context import Context
from bot.service.trail import Trail
from bot.slack import listeners, listeners_deploy, listeners_notices
from bot.slack.auth import Authorizer
from bot.slack.dedupe import Deduplicator
from bot.slack.handoff import CountedThreads, hand_off
from bot.slack.intake import MAX_BODY, Intake, refuse, silence_body_logging
from bot.slack.jobworker import JobWorker
from bot.slack.metered import MeteredWebClient
from bot.slack.posting import SlackPoster
from bot.slack.runtime import Runtime

log = logging.getLogger("tagpin.slack")
FLUSH_EVERY = 60.0
# Lazy work holds the GIL the acknowledgements need: fewer threads, faster acks (16 → 2 took p50 from ~160 to
# ~50 ms in bench_ack) -- but a deploy holds its thread for minutes, so enough must stay free for /status.
LAZY_WORKERS = 8
# A deploy stops within one converge poll after SIGTERM; Slack posts are bounded (bot.service.progress).
DRAIN_TIMEOUT = 30.0
# Work acknowledged but taken by no job worker for this long: users are waiting for answers that do not come.
JOBS_STALE = 60.0
# "all": acknowledge and work in this process (the shell, Socket Mode, tests); "http": acknowledge and hand the
# work to the store (the production server's processes); "jobs": run handed-over work (no HTTP, no verification).
Role = Literal["all", "http", "jobs"]


def web_client(base_url: str, token: str | None, *, backoff: float = 0.5) -> WebClient:
    """The SDK's client with the SDK's retry handlers: 429 waits Retry-After, drops and 5xx retry with back-off."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    return MeteredWebClient(base_url=base_url, token=token, timeout=10, retry_handlers=[
        RateLimitErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        ServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
    ])


def client_from(settings: Settings) -> WebClient:
    """The bot's client as the settings say: SLACK_BOT_TOKEN at TAGPIN_SLACK_API_URL (the bot, the watcher and a
    CLI deploy that posts its own audit thread all build it here)."""
    return web_client(settings.slack_api_url, settings.slack_bot_token)


def build(ctx: Context, *, client: WebClient | None = None, role: Role = "all") -> tuple[App, Runtime]:
    """The bolt App and the runtime its listeners share; signature verification is on wherever requests arrive
    (off only for role "jobs", whose requests come from the store, verified before they were written)."""
    settings = ctx.settings
    if not settings.slack_signing_secret and not settings.slack_app_token:
        raise UsageError("SLACK_SIGNING_SECRET is not set: the app refuses unsigned requests "
                         "(Basic Information → App Credentials → Signing Secret)")
    if not settings.slack_bot_token:
        raise UsageError("SLACK_BOT_TOKEN is not set (OAuth & Permissions → Bot User OAuth Token, xoxb-…)")
    client = client or client_from(settings)
    lazy_pool = ThreadPoolExecutor(max_workers=LAZY_WORKERS, thread_name_prefix="tagpin-lazy")
    try:
        # bolt checks the token with auth.test here: an unreachable Slack or a refused token stops the start.
        app = App(signing_secret=settings.slack_signing_secret or "", client=client,
                  # Acks answer synchronously (fast: parse only); the slow part runs in lazy listeners, a
                  # bounded pool of them, so a burst of work cannot starve the threads that must acknowledge.
                  process_before_response=True, name="tagpin", request_verification_enabled=role != "jobs",
                  listener_executor=lazy_pool)
    except (BoltError, SlackApiError) as exc:      # bolt wraps auth.test's refusal in a BoltError
        raise UsageError(f"Slack refused SLACK_BOT_TOKEN ({exc}): copy the Bot User OAuth Token (xoxb-…) from "
                         "OAuth & Permissions") from exc
    except (SlackClientError, OSError) as exc:
        raise ChatError(f"cannot reach the Slack Web API at {client.base_url} to check the token: "
                        f"{getattr(exc, 'reason', exc)} (TAGPIN_SLACK_API_URL, network)") from exc
    # The bot owns the outbox: its trail posts what any process (a CLI deploy, Slack down earlier) left pending.
    ctx = replace(ctx, poster=SlackPoster(client), owns_outbox=True)
    rt = Runtime(ctx, client, Authorizer(settings.deployers, client, tenant_deployers=settings.tenant_deployers,
                                         tenant_channels=settings.tenant_channels), Trail(ctx))
    if role == "http":
        hand_off(app, ctx.tables.jobs)
    else:
        app.listener_runner.lazy_listener_runner = CountedThreads(app.logger, lazy_pool, rt.inflight)
    app.middleware(Deduplicator(seen_requests(ctx).claim))
    listeners.register(app, rt)
    listeners_deploy.register(app, rt)
    listeners_notices.register(app, rt)
    # Reaching here means Slack accepted the token (auth.test above); the store and engine are probed live.
    checks: dict[str, health.Check] = {"slack": lambda: "token accepted by auth.test at start"}
    if role == "http":
        checks["jobs"] = lambda: _jobs_check(ctx)
    _readiness[app] = (health.bot_checks(ctx, checks), rt, role)
    return app, rt


def _jobs_check(ctx: Context) -> str:
    waiting, oldest = ctx.tables.jobs.backlog()
    metrics.JOBS_BACKLOG.set(waiting)
    if oldest > JOBS_STALE:
        raise ChatError(f"{waiting} acknowledged request(s) wait for a job worker, the oldest for {oldest:.0f} s: "
                        "is `tagpin bot --role jobs` running on this database?")
    return f"{waiting} waiting" + (f", the oldest for {oldest:.1f} s" if waiting else "")


# What flask_app serves at /readyz for an app build() made (flask_app keeps its one-argument signature).
_readiness: weakref.WeakKeyDictionary[App, tuple[health.Readiness, Runtime, Role]] = weakref.WeakKeyDictionary()


def _backlog(rt: Runtime, role: Role) -> health.Readiness:
    """The outbox backlog (and the job backlog under the production server), counted at scrape time but bounded
    like a readiness check (a hung store must not hang /metrics); a gauge keeps its last value when the count
    does not come back in time."""
    def count() -> str:
        outbox, channel = rt.trail.outbox, rt.trail.channel
        pending = len(outbox.pending(channel, limit=10_000)) if outbox is not None and channel else 0
        metrics.OUTBOX_BACKLOG.set(pending)
        return str(pending)

    def jobs() -> str:
        waiting = rt.ctx.tables.jobs.backlog()[0]
        metrics.JOBS_BACKLOG.set(waiting)
        return str(waiting)
    counts: dict[str, health.Check] = {"outbox": count, **({"jobs": jobs} if role == "http" else {})}
    return health.Readiness(counts, timeout=1.0, record=False)


def flask_app(app: App) -> Flask:
    """bolt behind the intake checks at /slack/events (Slack's request URL for commands and interactivity)."""
    web = Flask("tagpin")
    web.config["MAX_CONTENT_LENGTH"] = MAX_BODY + 1     # one byte over, read, tells a body too long (intake)
    silence_body_logging()
    intake = Intake(app)

    @web.post("/slack/events")
    def events() -> Response:
        arrived = time.perf_counter()
        answer = intake.handle(request)
        metrics.ACK_SECONDS.labels(status=str(answer.status_code)).observe(time.perf_counter() - arrived)
        return answer

    @web.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:        # 404, 405, 413 …: JSON, not Flask's HTML page
        return refuse(exc.code or 400, exc.description or exc.name)

    none: tuple[health.Readiness, Runtime | None, Role] = (health.Readiness(), None, "all")
    readiness, rt, role = _readiness.get(app, none)
    backlog = _backlog(rt, role) if rt is not None else health.Readiness(record=False)

    def refresh() -> None:
        backlog.run()

    health.add_routes(web, readiness, refresh)
    return web


def flush_forever(rt: Runtime, every: float = FLUSH_EVERY) -> threading.Event:
    """Retry pending audit posts in the background; set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                rt.trail.flush()
            except Exception:
                log.exception("audit outbox flush failed")

    threading.Thread(target=loop, name="tagpin-outbox", daemon=True).start()
    return stop


def serve_socket_mode(ctx: Context) -> None:
    """`tagpin bot` with SLACK_APP_TOKEN: one process, acknowledging and working (Slack's Socket Mode client)."""
    silence_body_logging()       # Socket Mode never builds the Flask app, and bolt would log bodies there too
    app, rt = build(ctx)
    flush_forever(rt)
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    log.info("tagpin bot: Socket Mode")
    socket_mode = SocketModeHandler(app, ctx.settings.slack_app_token)
    stopped = threading.Event()
    with stopping.on_signals(stopped.set):
        socket_mode.connect()  # type: ignore[no-untyped-call]
        stopped.wait()
        socket_mode.close()  # type: ignore[no-untyped-call]
        _drain(rt)


def http_app(ctx: Context) -> Flask:
    """What each acknowledging process serves (`tagpin bot --role http`): verify, acknowledge, store the work."""
    return flask_app(build(ctx, role="http")[0])


def serve_jobs(ctx: Context) -> None:
    """`tagpin bot --role jobs`: run the work the acknowledging processes stored, and post the audit outbox."""
    app, rt = build(ctx, role="jobs")
    flush = flush_forever(rt)
    worker = JobWorker(app, ctx.tables.jobs, rt.inflight, ctx.settings.bot_jobs).start()
    log.info("tagpin bot: job worker %s, %d threads", worker.name, ctx.settings.bot_jobs)
    stopped = threading.Event()
    with stopping.on_signals(stopped.set):
        stopped.wait()
        worker.stop()
        flush.set()
        _drain(rt)


def _drain(rt: Runtime, timeout: float = DRAIN_TIMEOUT) -> None:
    """After SIGTERM: no new requests; running deploys stop at their next step boundary (recorded, lease
    released) -- wait for them, bounded, before the process exits."""
    log.info("tagpin bot: stopping (%s); waiting for running work", stopping.requested())
    if not rt.inflight.wait_idle(timeout):
        log.warning("tagpin bot: work still running after %.0f s; exiting anyway", timeout)
