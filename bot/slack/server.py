"""`tagpin bot` over HTTP in production: gunicorn's acknowledging processes and a job worker, one store between them.

    tagpin bot                 the supervisor: starts `--role jobs` and `--role http`, stops both, exits if either does
    tagpin bot --role http     gunicorn (gthread) serving /slack/events, /healthz, /readyz, /metrics on TAGPIN_BIND;
                               each worker only verifies, acknowledges and stores the work (bot.slack.handoff.ToStore)
    tagpin bot --role jobs     claims the stored work and runs it (deploys, status, …); no HTTP

The two roles can also run as separate services on one database (the job worker of any replica takes any job).
The supervisor gives every child one PROMETHEUS_MULTIPROC_DIR, so /metrics shows the job worker's deploys too."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from bot.config import Settings
from bot.health import split_bind
from bot.service import stopping

log = logging.getLogger("tagpin.slack")
WSGI = Callable[..., Any]
# What a stopped child gets to finish before it is killed: the job worker drains deploys (bot.slack.app.DRAIN_TIMEOUT).
STOP_TIMEOUT = 40.0


# Probes and scrapes come every few seconds from Swarm and Prometheus: logged, they would bury Slack's requests.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Combined log format less the ident/user fields, plus the time taken: the request line only, never a body or header.
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


class AccessLog(Logger):  # type: ignore[misc]
    """gunicorn's logger, its access log without the health probes and metric scrapes."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if req.path not in QUIET_PATHS:
            super().access(resp, req, environ, request_time)


class AckServer(BaseApplication):  # type: ignore[misc]     # gunicorn ships no type hints
    """gunicorn run from Python (its documented custom-application pattern): `make_wsgi` builds the Flask app in
    each worker after the fork, so no database connection or Slack client is shared between processes."""

    def __init__(self, make_wsgi: Callable[[], WSGI], options: dict[str, Any]) -> None:
        self.make_wsgi, self.options = make_wsgi, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGI:
        return self.make_wsgi()


def options(settings: Settings) -> dict[str, Any]:
    host, port = split_bind("TAGPIN_BIND", settings.bind)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def ready(_arbiter: object) -> None:
        print(f"tagpin bot listening on http://{settings.bind}/slack/events "
              f"({settings.bot_workers} workers x {settings.bot_threads} threads)", flush=True)

    def child_exit(_arbiter: object, worker: Any) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    return {
        "bind": [address], "workers": settings.bot_workers, "threads": settings.bot_threads,
        "worker_class": "gthread", "proc_name": "tagpin-bot",
        # An acknowledgement takes milliseconds; a worker silent for 30 s is stuck and is replaced.
        "timeout": 30, "graceful_timeout": 10, "keepalive": 2,
        "accesslog": "-", "access_log_format": ACCESS_FORMAT, "logger_class": AccessLog,
        "errorlog": "-", "loglevel": "warning",
        "control_socket_disable": True,            # gunicorn ≥ 24 would open ~/.gunicorn/gunicorn.ctl
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,   # heartbeats off a container's disk
        "when_ready": ready, "child_exit": child_exit,
    }


def serve_http(settings: Settings, make_wsgi: Callable[[], WSGI]) -> int:
    if settings.bot_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The supervisor sets it; a --role http service of its own needs it set (prometheus_client reads it at import).
        log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows whichever of the %d workers answers it; "
                    "set it to an empty directory to count them all", settings.bot_workers)
    AckServer(make_wsgi, options(settings)).run()      # returns when the arbiter stops (SIGTERM, SIGINT)
    return 0


def supervise(role_command: Callable[[str], Sequence[str]], env: dict[str, str] | None = None) -> int:
    """Start the job worker, then the HTTP server, as child processes; on SIGTERM/SIGINT stop the server first (no
    new work), then the worker (it finishes what runs); when either child exits on its own, stop the other and
    exit with its status, so the orchestrator restarts the whole bot."""
    env = dict(os.environ if env is None else env)
    made = None
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        made = env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tagpin-metrics-")
    children: list[subprocess.Popen[bytes]] = []
    ended = threading.Event()
    try:
        for role in ("jobs", "http"):
            children.append(subprocess.Popen(list(role_command(role)), env=env, preexec_fn=_die_with_parent))
        for child in children:
            threading.Thread(target=_watch, args=(child, ended), daemon=True).start()
        with stopping.on_signals(ended.set):
            ended.wait()
        early = [c for c in children if c.poll() not in (None, 0)] if not stopping.requested() else []
        for child in reversed(children):           # the server first: nothing new is handed to the worker
            _stop(child)
        if early:
            log.error("tagpin bot: %s exited with status %d; stopped the rest",
                      "the job worker" if early[0] is children[0] else "the HTTP server", early[0].returncode)
            return early[0].returncode or 1
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies, even by kill -9 (Linux's PR_SET_PDEATHSIG), so
    no worker is left holding the port or running work nobody supervises."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)     # 1 = PR_SET_PDEATHSIG


def _watch(child: subprocess.Popen[bytes], ended: threading.Event) -> None:
    child.wait()
    ended.set()


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("tagpin bot: a child (pid %d) did not stop in %.0f s; killed", child.pid, STOP_TIMEOUT)
        child.kill()
        child.wait()


def role_command(role: str) -> list[str]:
    """This same tagpin, one role: `python -m bot bot --role ROLE`."""
    return [sys.executable, "-m", "bot", "bot", "--role", role]
