"""The demo annotation page's backend (with TAGPIN_RECOVERY_DEMO=1): a submit that can be made to fail."""

from __future__ import annotations

import time

from flask import Response, abort, jsonify, request, send_from_directory

from recovery.errors import json_error
from recovery.runtime import runtime

# What the demo server claims to run: newer than the page's 1.10.0, as in the incident.
SERVER_VERSION = "1.11.0"
MODES = ("ok", "409", "500", "slow")
SLOW_SECONDS = 5.0


def _enabled() -> None:
    if not runtime().settings.demo:
        abort(404, description="the demo is off (set TAGPIN_RECOVERY_DEMO=1)")


def page(path: str = "index.html") -> Response:
    _enabled()
    return send_from_directory(runtime().settings.static_dir / "demo", path)


def mode() -> Response:
    _enabled()
    rt = runtime()
    if request.method == "POST":
        wanted = (request.get_json(silent=True) or {}).get("mode")
        if wanted not in MODES:
            abort(400, description=f"mode must be one of {', '.join(MODES)}")
        rt.demo_mode = str(wanted)      # one reference assignment: atomic, no lock needed
    return jsonify({"mode": rt.demo_mode, "modes": list(MODES)})


def submit() -> Response | tuple[Response, int]:
    _enabled()
    rt = runtime()
    current = rt.demo_mode
    if current == "409":
        client = request.headers.get("X-App-Version", "unknown")
        return json_error(409, "client_outdated",
                          f"client outdated: this page is {client}, the server needs {SERVER_VERSION}")
    if current == "500":
        return json_error(500, "internal_error", "demo failure")
    if current == "slow":
        time.sleep(SLOW_SECONDS)  # longer than the page's submit timeout, so the snippet gives up first
    work = request.get_json(silent=True) or {}
    spans = work.get("spans") if isinstance(work, dict) else None
    return jsonify({"ok": True, "spans": len(spans) if isinstance(spans, list) else 0})
