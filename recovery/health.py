"""/healthz, /readyz (the beacon database, bounded in time) and /metrics (tagpin_recovery_*) of the recovery service."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future

from flask import Flask, Response, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

# The service's own registry: recovery is independent of the bot, and a process holding both keeps them apart.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
REQUESTS = Counter("tagpin_recovery_requests", "Requests by route (the URL rule, 'unmatched' for none) and status.",
                   ["endpoint", "status"], registry=REGISTRY)
BEACONS = Counter("tagpin_recovery_beacons", "Beacons recorded, or refused with the status said.",
                  ["outcome", "status"], registry=REGISTRY)
READY = Gauge("tagpin_recovery_ready", "1 when the beacon database answers the readiness probe.",
              registry=REGISTRY)
# A probe must answer within an orchestrator's timeout even when the database hangs.
CHECK_TIMEOUT = 2.0


class DatabaseCheck:
    """A fresh connection per probe (what a restart would get), at most one in flight: a hung database makes
    each probe fail after CHECK_TIMEOUT instead of piling up threads."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.engine = create_engine(url, poolclass=NullPool)
        sqlite = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        self.path = url.database if sqlite else None
        self.pending: tuple[float, Future[str]] | None = None
        self.lock = threading.Lock()

    def _query(self) -> str:
        if self.path is not None and not os.path.isfile(self.path):
            raise FileNotFoundError(f"the SQLite database {self.path} is gone")
        with self.engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM client_beacons WHERE 1 = 0")).scalar()
        return f"{self.engine.url.get_backend_name()} answers"

    def run(self, timeout: float = CHECK_TIMEOUT) -> tuple[bool, str]:
        with self.lock:
            if self.pending is None or self.pending[1].done():
                future: Future[str] = Future()

                def work() -> None:
                    try:
                        future.set_result(self._query())
                    except BaseException as exc:  # told to the prober; nothing else would see it
                        future.set_exception(exc)

                threading.Thread(target=work, name="recovery-ready", daemon=True).start()
                self.pending = (time.monotonic(), future)
            since, future = self.pending
        try:
            return True, future.result(timeout)
        except TimeoutError:
            return False, f"no answer within {time.monotonic() - since:.1f} s"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


def install(app: Flask, database_url: str) -> None:
    check = DatabaseCheck(database_url)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        ok, detail = check.run()
        READY.set(1 if ok else 0)
        resp = jsonify({"ready": ok, "failing": [] if ok else ["database"],
                        "checks": {"database": {"ok": ok, "detail": detail}}})
        resp.status_code = 200 if ok else 503
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

    @app.after_request
    def count(resp: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        REQUESTS.labels(endpoint=rule, status=str(resp.status_code)).inc()
        if request.endpoint == "recovery.beacon" and request.method == "POST":
            BEACONS.labels(outcome="recorded" if resp.status_code == 201 else "refused",
                           status=str(resp.status_code)).inc()
        return resp
