"""POST /recovery/echo (a recovery file back as an attachment) and POST /recovery/beacon (telemetry)."""

from __future__ import annotations

import json

from flask import Response, abort, jsonify, request

from recovery import beacons, fileformat
from recovery.errors import json_error
from recovery.runtime import runtime

BEACON_MAX_BYTES = 4096


def echo() -> Response:
    """For browsers that cannot save a Blob: the snippet posts the file as a form field and gets it back."""
    rt = runtime()
    text = request.form.get("file")
    if text is None:
        abort(400, description="send the recovery file as the urlencoded form field 'file'")
    try:
        parsed = fileformat.parse(text, max_bytes=rt.settings.max_bytes)
    except fileformat.InvalidRecoveryFile as exc:
        return json_error(413 if exc.code == "too_large" else 400, exc.code, str(exc))
    # Exactly the bytes that were posted: the checksum the user keeps must match what they downloaded.
    resp = Response(text, mimetype="application/json")
    resp.headers["Content-Disposition"] = f'attachment; filename="{parsed.filename}"'
    resp.headers["Cache-Control"] = "no-store"
    # Never rendered as a page, whatever a browser would guess from the content.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


def beacon() -> Response | tuple[Response, int]:
    rt = runtime()
    retry = rt.limiter.hit(request.remote_addr or "-")
    if retry:
        resp = json_error(429, "rate_limited", f"too many beacons; retry in {retry:.0f} s")
        resp.headers["Retry-After"] = str(max(1, round(retry)))
        return resp
    origin = request.headers.get("Origin")
    if rt.settings.allowed_origins and not rt.settings.allows(origin):
        # As CORS: another site's page (or a client that names none) must not write this tenant's telemetry.
        return json_error(403, "origin_refused", f"beacons come only from TAGPIN_RECOVERY_ALLOWED_ORIGINS, "
                                                 f"not from {origin!r:.80}")
    if request.content_length is not None and request.content_length > BEACON_MAX_BYTES:
        abort(413, description=f"a beacon is at most {BEACON_MAX_BYTES} bytes")
    # navigator.sendBeacon sends a string as text/plain, which also spares a CORS preflight.
    if request.mimetype not in ("application/json", "text/plain"):
        abort(415, description="send the beacon as application/json or text/plain JSON")
    raw = request.get_data(cache=False)
    if len(raw) > BEACON_MAX_BYTES:
        abort(413, description=f"a beacon is at most {BEACON_MAX_BYTES} bytes")
    try:
        parsed = beacons.parse(json.loads(raw))
    except ValueError as exc:  # json's errors and InvalidBeacon alike
        return json_error(400, "invalid_beacon", str(exc))
    beacon_id = rt.beacons.add(parsed, request.user_agent.string)
    return jsonify({"id": beacon_id}), 201


