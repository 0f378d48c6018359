"""create_app(test_config=None): the recovery service's Flask app factory, with JSON errors everywhere."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from recovery import health
from recovery.beacons import BeaconStore
from recovery.blueprint import bp
from recovery.errors import json_error
from recovery.ratelimit import RateLimiter
from recovery.runtime import Runtime, install
from recovery.settings import PREFIX, RecoverySettings
from recovery.snippet import Snippet

log = logging.getLogger("tagpin.recovery")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Settings come from TAGPIN_RECOVERY_* in the environment; test_config overrides them (same names) and
    sets any other Flask config key (TESTING, ...)."""
    overrides = dict(test_config or {})
    env = {**os.environ, **{k: str(v) for k, v in overrides.items() if k.startswith(PREFIX)}}
    settings = RecoverySettings.from_env(env)
    app = Flask(__name__, static_folder=None)
    # Urlencoding can triple a recovery file, so the body limit leaves room; echo checks the decoded size.
    body_limit = 3 * settings.max_bytes + 64 * 1024
    app.config.update(MAX_CONTENT_LENGTH=body_limit, MAX_FORM_MEMORY_SIZE=body_limit)
    app.config.update({k: v for k, v in overrides.items() if not k.startswith(PREFIX)})
    if settings.proxy_hops:
        # Behind a proxy the client address (for rate limits) is in X-Forwarded-For, set by that many hops.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]
    install(app, Runtime(
        settings=settings,
        snippet=Snippet.load(settings.static_dir / "recovery.js"),
        beacons=BeaconStore(settings.database_url),
        limiter=RateLimiter(settings.beacons_per_minute),
    ))
    app.register_blueprint(bp)
    health.install(app, settings.database_url)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _bug)
    return app


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if isinstance(exc, RequestEntityTooLarge) and "larger than" not in message:
        message = "the request body is larger than this service accepts"
    code = (exc.name or "error").lower().replace(" ", "_")
    resp = json_error(status, code, message)
    for name, value in exc.get_headers():
        if name in ("Allow", "Retry-After"):  # keep what the exception says about how to retry
            resp.headers[name] = value
    return resp


def _bug(exc: Exception) -> Response:
    reference = uuid.uuid4().hex[:12]
    log.exception("unexpected error (reference %s)", reference, exc_info=exc)
    return json_error(500, "internal_error", f"an unexpected error happened; quote reference {reference}",
                       reference=reference)
