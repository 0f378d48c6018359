"""/healthz, /readyz and /metrics for the bot and the watcher: named readiness checks, each bounded in time."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

from flask import Flask, Response, jsonify
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from werkzeug.serving import WSGIRequestHandler

from bot import metrics
from bot.errors import UsageError
from bot.service.context import Context

# A probe must answer well within an orchestrator's timeout, even when the database or the engine hangs.
CHECK_TIMEOUT = 2.0
PROBES = ("/healthz", "/readyz", "/metrics")
# A registry notifies once per blob and manifest: the accepted ones stay out of the access log too (a refused one,
# 401 or 400, is logged; the watcher logs each push it acts on).
QUIET_POSTS = ("/registry/events",)
Check = Callable[[], str]             # returns a short "ok" detail; raises when the dependency is not usable


@dataclass
class Readiness:
    """Runs every check in its own thread and waits at most `timeout`; a check still hung from an earlier
    probe is reported as failing again instead of starting another thread behind it."""

    checks: dict[str, Check] = field(default_factory=dict)
    timeout: float = CHECK_TIMEOUT
    record: bool = True                   # set tagpin_ready{check} from the results
    _running: dict[str, tuple[float, Future[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _start(self, name: str, check: Check) -> tuple[float, Future[str]]:
        with self._lock:
            if name in self._running and not self._running[name][1].done():
                return self._running[name]
            future: Future[str] = Future()

            def run() -> None:
                try:
                    future.set_result(check())
                except BaseException as exc:  # the probe reports it; nothing else would see it
                    future.set_exception(exc)

            threading.Thread(target=run, name=f"tagpin-ready-{name}", daemon=True).start()
            self._running[name] = (time.monotonic(), future)
            return self._running[name]

    def run(self) -> tuple[bool, dict[str, dict[str, object]]]:
        started = {name: self._start(name, check) for name, check in self.checks.items()}
        deadline = time.monotonic() + self.timeout
        results: dict[str, dict[str, object]] = {}
        for name, (since, future) in started.items():
            try:
                results[name] = {"ok": True, "detail": future.result(max(0.0, deadline - time.monotonic()))}
            except TimeoutError:
                results[name] = {"ok": False, "detail": f"no answer within {time.monotonic() - since:.1f} s"}
            except Exception as exc:
                results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {str(exc)[:300]}"}
            if self.record:
                metrics.READY.labels(check=name).set(1 if results[name]["ok"] else 0)
        return all(r["ok"] for r in results.values()), results


def add_routes(web: Flask, readiness: Readiness, refresh: Callable[[], None] = lambda: None) -> None:
    """GET /healthz (the process answers), /readyz (200, or 503 naming the failing checks), /metrics."""

    @web.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @web.get("/readyz")
    def readyz() -> Response:
        ok, results = readiness.run()
        failing = [name for name, r in results.items() if not r["ok"]]
        resp = jsonify({"ready": ok, "failing": failing, "checks": results})
        resp.status_code = 200 if ok else 503
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @web.get("/metrics")
    def prometheus() -> Response:
        refresh()
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)


class QuietHandler(WSGIRequestHandler):
    """Orchestrators probe every few seconds and Prometheus scrapes: their answered requests stay out of the log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        answered = str(getattr(code, "value", code)).startswith(("2", "3"))
        if not (answered and self.path.split("?")[0] in (*PROBES, *QUIET_POSTS)):
            super().log_request(code, size)


def store_check(database_url: str) -> Check:
    """A fresh connection each probe (no pool): what a restarted process would get. For SQLite the file must
    still exist -- a pooled connection keeps writing to a deleted file, and connecting would create an empty one."""
    url = make_url(database_url)
    engine = create_engine(url, poolclass=NullPool)
    path = url.database if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") else None

    def check() -> str:
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"the SQLite database {path} is gone")
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version FROM tagpin_schema")).scalar()
        return f"{url.get_backend_name()} schema {version}"

    return check


def engine_check(ctx: Context) -> Check:
    def check() -> str:
        return ctx.swarm.ping()               # opening the swarm pings once; later probes ping again
    return check


def bot_checks(ctx: Context, extra: Mapping[str, Check] | None = None) -> Readiness:
    return Readiness({"store": store_check(ctx.store.url), "engine": engine_check(ctx), **(extra or {})})


def split_bind(name: str, bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{name} must be HOST:PORT, not {bind!r}")
    return host.strip("[]"), int(port)
