"""The job worker (`tagpin bot --role jobs`): claims the work acknowledging processes stored (bot.slack.handoff),
runs it once, keeps its claims fresh while it runs, and sweeps out -- telling their users -- the jobs of workers that
stopped while running them."""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App

from bot import metrics
from bot.domain.jobs import Job
from bot.errors import StoreError
from bot.service.ports import Jobs
from bot.slack import abandoned
from bot.slack.handoff import lazy_request, what
from bot.slack.runtime import Inflight

log = logging.getLogger("tagpin.slack")
# An idle worker looks for work this often: the added delay before a reply starts (the ack is already shown).
POLL = 0.1
# A worker refreshes the claims of the jobs it runs this often; a claim nobody refreshed for STALE (six missed
# heartbeats: a slow store is not a dead worker) belongs to a worker that stopped, and every worker's sweep, run
# every SWEEP, takes such jobs out and tells their users.
HEARTBEAT, STALE, SWEEP = 30.0, 180.0, 60.0


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
            with self._lock:                 # before the row goes: a beat after it would think the job swept
                self._running.discard(job.id)
            try:
                if not self.jobs.done(job.id, self.name):
                    log.warning("Slack job %d (%s) ended after it was swept as abandoned: its user was told it was "
                                "lost", job.id, job.function)
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
