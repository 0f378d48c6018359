"""Where a request's slow part runs once it is acknowledged: in this process's threads (the shell, Socket Mode),
or -- under the production server -- in a job worker, handed over through the store as bolt's AWS Lambda adapter
hands it to a second invocation: the signed request and the lazy function's name, re-dispatched there with
bolt's `x-slack-bolt-lazy-only` headers, so an acknowledging process never holds the GIL for a deploy."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.lazy_listener.internals import build_runnable_function
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.request import BoltRequest
from slack_bolt.util.utils import get_name_for_callable

from bot import metrics
from bot.domain.jobs import Job
from bot.errors import ChatError, StoreError
from bot.service.ports import Jobs
from bot.slack import abandoned
from bot.slack.runtime import Inflight

log = logging.getLogger("tagpin.slack")
LAZY_ONLY, LAZY_FUNCTION = "x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name"
# An idle worker looks for work this often: the added delay before a reply starts (the ack is already shown).
POLL = 0.1
# A worker refreshes the claims of the jobs it runs this often; a claim nobody refreshed for STALE (six missed
# heartbeats: a slow store is not a dead worker) belongs to a worker that stopped, and every worker's sweep, run
# every SWEEP, takes such jobs out and tells their users.
HEARTBEAT, STALE, SWEEP = 30.0, 180.0, 60.0


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


class JobWorker:
    """Claims jobs from the store while a thread is free (so a busy worker leaves them to another replica) and
    runs each once through `app` (built with role "jobs": no signature check -- what the store holds was verified
    before it was written); keeps their claims fresh, and sweeps out the jobs of workers that stopped."""

    def __init__(self, app: App, jobs: Jobs, inflight: Inflight, threads: int, poll: float = POLL,
                 heartbeat: float = HEARTBEAT, stale: float = STALE, sweep: float = SWEEP) -> None:
        if stale < 2 * heartbeat:
            raise ValueError(f"a stale bound of {stale} s would sweep jobs whose {heartbeat} s heartbeat is only late")
        self.app, self.jobs, self.inflight, self.poll = app, jobs, inflight, poll
        self.heartbeat, self.stale, self.sweep = heartbeat, stale, sweep
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._free = threading.Semaphore(threads)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tagpin-job")
        self._running: set[int] = set()                 # the ids of the jobs this worker runs, under _lock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._quiet = threading.Event()                  # stopped and nothing left running: the heartbeat ends
        self._threads = [threading.Thread(target=target, name=name, daemon=True) for target, name in (
            (self._loop, "tagpin-jobs"), (self._beat, "tagpin-jobs-beat"), (self._sweeping, "tagpin-jobs-sweep"))]

    def start(self) -> JobWorker:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Claim and sweep nothing more; what runs goes on, its claims kept fresh (wait for it with
        inflight.wait_idle)."""
        self._stop.set()
        self._threads[0].join(timeout=5)
        self._settle()
        self._threads[2].join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._free.acquire(timeout=self.poll):
                continue
            try:
                job = self.jobs.claim(self.name)
            except StoreError as exc:
                log.warning("cannot claim Slack work: %s", exc)
                job = None
                self._stop.wait(1.0)
            if job is None:
                self._free.release()
                self._stop.wait(self.poll)
                continue
            with self._lock:
                self._running.add(job.id)
            self.inflight.begin()
            self._pool.submit(self._run, job)

    def _run(self, job: Job) -> None:
        request = "?"
        try:
            lazy = lazy_request(job)
            request = what(lazy.body)
            answer = self.app.dispatch(lazy)
            if answer.status != 200:
                log.warning("Slack job %d (%s) ended with status %d", job.id, job.function, answer.status)
        except Exception:
            log.exception("Slack job %d (%s) failed", job.id, job.function)
        finally:
            metrics.SLACK_JOBS.labels(request=request).inc()
            with self._lock:                 # before the row goes: a heartbeat never misses a job that ended
                self._running.discard(job.id)
            try:
                self.jobs.done(job.id)
            except StoreError as exc:      # claimed, so never run again; the row stays for the record
                log.warning("could not remove Slack job %d: %s", job.id, exc)
            self._settle()
            self.inflight.end()
            self._free.release()

    def _settle(self) -> None:
        with self._lock:
            if self._stop.is_set() and not self._running:
                self._quiet.set()

    def _beat(self) -> None:
        """Refresh the claims of the jobs running here, until the worker is stopped and they are done."""
        while not self._quiet.wait(self.heartbeat):
            with self._lock:
                running = set(self._running)
            try:
                held = self.jobs.touch(self.name, running)
            except StoreError as exc:
                log.warning("cannot refresh the claims of Slack jobs %s: %s", sorted(running), exc)
                continue
            with self._lock:
                swept = (running - held) & self._running
            for job_id in sorted(swept):
                log.warning("Slack job %d was swept while it ran here (no heartbeat reached the store for %.0f s): "
                            "its user was told it was lost; it runs on", job_id, self.stale)

    def sweep_once(self) -> int:
        """Take out the jobs that workers which stopped left claimed (as many as this sweeper gets first) and tell
        their users; how many. Taken out, not claimed again: a deploy its worker left half-done must not be repeated
        blindly -- the user checks and asks again. Told at most once: a sweeper that dies between the DELETE and
        the post tells no one."""
        swept = 0
        while not self._stop.is_set() and (lost := self.jobs.sweep(self.stale)):
            for job in lost:
                self._tell(job)
            swept += len(lost)
        return swept

    def _sweeping(self) -> None:
        while True:                        # at the start (a restarted worker tells of its predecessor's), then often
            try:
                self.sweep_once()
            except StoreError as exc:
                log.warning("cannot sweep the Slack work of stopped job workers: %s", exc)
            if self._stop.wait(self.sweep):
                return

    def _tell(self, job: Job) -> None:
        try:
            body = lazy_request(job).body
            request = what(body)
            metrics.SLACK_JOBS_ABANDONED.labels(request=request).inc()
            abandoned.tell(job, body, request)
        except Exception:                  # one unreadable body must not keep the others' users from hearing
            log.exception("Slack job %d (%s) was lost with its worker %s and could not be told", job.id,
                          job.function, job.claimed_by)
