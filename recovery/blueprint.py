"""The recovery service's one blueprint: every route and the CORS policy for configured origins."""

from __future__ import annotations

from flask import Blueprint, Response, request

from recovery import demo, snippet, views
from recovery.runtime import runtime

bp = Blueprint("recovery", __name__)

bp.add_url_rule("/recovery.js", view_func=snippet.script)
bp.add_url_rule("/recovery/<version>/recovery.js", view_func=snippet.versioned_script)
bp.add_url_rule("/recovery/manifest.json", view_func=snippet.manifest)
bp.add_url_rule("/recovery/echo", view_func=views.echo, methods=["POST"])
bp.add_url_rule("/recovery/beacon", view_func=views.beacon, methods=["POST"])
bp.add_url_rule("/demo/", view_func=demo.page)
bp.add_url_rule("/demo/<path:path>", view_func=demo.page)
bp.add_url_rule("/demo/api/mode", view_func=demo.mode, methods=["GET", "POST"])
bp.add_url_rule("/demo/api/submit", view_func=demo.submit, methods=["POST"])


@bp.after_app_request
def headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Caches must keep one copy per Origin, since the CORS answer differs between them.
    resp.vary.add("Origin")
    origin = request.headers.get("Origin")
    if runtime().settings.allows(origin):
        resp.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST"
            resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
            resp.headers["Access-Control-Max-Age"] = "600"
    return resp
