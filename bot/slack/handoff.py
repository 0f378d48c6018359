"""Where a request's slow part runs once it is acknowledged: in this process's threads (the shell, Socket Mode),
or -- under the production server -- in a job worker, handed over through the store as bolt's AWS Lambda adapter
hands it to a second invocation: the signed request and the lazy function's name, re-dispatched there with
bolt's `x-slack-bolt-lazy-only` headers (bot.slack.jobworker), so an acknowledging process never holds the GIL for a
deploy."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.lazy_listener.internals import build_runnable_function
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.request import BoltRequest
from slack_bolt.util.utils import get_name_for_callable

from bot.domain.jobs import Job
from bot.errors import ChatError, StoreError
from bot.service.ports import Jobs
from bot.slack.runtime import Inflight

log = logging.getLogger("tagpin.slack")
LAZY_ONLY, LAZY_FUNCTION = "x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name"


class HandOffFailed(ChatError):
    """The acknowledged request could not be handed to a job worker (the store refused the job)."""


class CountedThreads(LazyListenerRunner):
    """bolt's thread runner, counting the work it starts in `inflight` (the shell and SIGTERM wait for it)."""

    def __init__(self, logger: logging.Logger, executor: Executor, inflight: Inflight) -> None:
        self.logger, self.executor, self.inflight = logger, executor, inflight

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        runnable = build_runnable_function(func=function, logger=self.logger, request=request)
        self.inflight.begin()          # before the acknowledgement is sent: a waiter never sees 0 too early

        def counted() -> None:
            try:
                runnable()
            finally:
                self.inflight.end()
        self.executor.submit(counted)


class ToStore(LazyListenerRunner):
    """The acknowledging side: the lazy work becomes a row of slack_jobs, written before the acknowledgement goes."""

    def __init__(self, logger: logging.Logger, jobs: Jobs) -> None:
        self.logger, self.jobs = logger, jobs

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        name = request.lazy_function_name or get_name_for_callable(function)
        headers = {k: list(v) for k, v in request.headers.items() if not k.startswith("x-slack-bolt-")}
        try:
            self.jobs.add(name, headers, request.raw_body)
        except StoreError as exc:
            # bolt's dispatch would turn a raise into a bare 500; the front door (bot.slack.intake) asks instead.
            _failed.error = HandOffFailed(f"tagpin could not queue this request for its worker: {exc}. Nothing "
                                          "was done; try again when the database is back")
            log.warning("%s", _failed.error)


_failed = threading.local()             # ToStore.start runs in the thread that dispatches the request


def hand_off_failure() -> HandOffFailed | None:
    """The hand-off that failed during this thread's last dispatch, once (then forgotten)."""
    error: HandOffFailed | None = getattr(_failed, "error", None)
    _failed.error = None
    return error


def what(body: dict[str, Any]) -> str:
    """A request's kind, for a metric label: the command, or the clicked action's id."""
    if body.get("command"):
        return str(body["command"])[:40]
    actions = body.get("actions") or [{}]
    return str(actions[0].get("action_id") or body.get("type") or "other")[:40]


class HandingOff(ThreadListenerRunner):
    """bolt's listener runner, less the deep copy of the request it makes for another thread (a third of an
    acknowledgement's time): a hand-off to the store reads only the request's bytes and headers, in this thread."""

    def _start_lazy_function(self, lazy_func: Callable[..., None], request: BoltRequest) -> None:
        self.lazy_listener_runner.start(function=lazy_func, request=request)


def hand_off(app: App, jobs: Jobs) -> None:
    """Make `app` store its lazy work for a job worker instead of running it."""
    runner = app.listener_runner
    runner.lazy_listener_runner = ToStore(app.logger, jobs)
    if type(runner) is ThreadListenerRunner:     # bolt's own: the same object, less the copy
        runner.__class__ = HandingOff


def lazy_request(job: Job) -> BoltRequest:
    """The stored request as the worker's app dispatches it: only the named lazy function runs, no ack."""
    headers: dict[str, Any] = {**job.headers, LAZY_ONLY: ["1"], LAZY_FUNCTION: [job.function]}
    return BoltRequest(body=job.body, headers=headers)
