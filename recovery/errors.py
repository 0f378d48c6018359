"""The one JSON error body of the recovery service: {"error": {status, code, message, …}}."""

from __future__ import annotations

from flask import Response, jsonify


def json_error(status: int, code: str, message: str, **extra: str) -> Response:
    resp = jsonify({"error": {"status": status, "code": code, "message": message, **extra}})
    resp.status_code = status
    return resp
