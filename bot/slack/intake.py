"""The bot's front door: oversized, malformed and forged requests refused before bolt reads them; no body logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from flask import Request, Response, jsonify
from slack_bolt import App
from slack_bolt.adapter.flask.handler import to_flask_response
from slack_bolt.request import BoltRequest, payload_utils
from werkzeug.exceptions import RequestEntityTooLarge

from bot.slack.handoff import hand_off_failure

log = logging.getLogger("tagpin.slack")
# Slack's slash commands and button clicks are a few KiB; 1 MiB leaves room for any payload it sends. Flask's
# MAX_CONTENT_LENGTH enforces it before reading: a larger Content-Length is refused unread, and a chunked
# body is cut off at the limit, so a forged 100 MB body never sits in memory.
MAX_BODY = 1 << 20
# bolt logs these with the whole body (and the signature) in the message at INFO/WARNING, the level `tagpin bot`
# runs at: a forged flood then filled the disk (588 MB of log from 561 MB of traffic).
_BODY_LOGGING = {"slack_bolt.RequestVerification": "Invalid request signature",
                 "slack_bolt.App": "A global middleware"}

# What bolt's build_required_kwargs extracts from every request, before any listener runs.
_EXTRACTORS = (payload_utils.to_options, payload_utils.to_shortcut, payload_utils.to_action, payload_utils.to_view,
               payload_utils.to_command, payload_utils.to_event, payload_utils.to_message, payload_utils.to_step)


class _NoBodies(logging.Filter):
    """Drops bolt's records that would carry a request body, whatever level the operator configures."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def silence_body_logging() -> None:
    """Install the filters once (the loggers are process-wide)."""
    for name, prefix in _BODY_LOGGING.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoBodies) for f in logger.filters):
            logger.addFilter(_NoBodies(prefix))


def refuse(status: int, why: str) -> Response:
    """A short JSON answer; never the request's bytes, never a traceback."""
    answer = jsonify(error=why)
    answer.status_code = status
    return answer


class Intake:
    """bolt's Flask adapter with the checks it lacks: size first, then headers, encoding and shape, then bolt."""

    def __init__(self, app: App) -> None:
        self.app = app

    def handle(self, req: Request) -> Response:
        raw = _body(req)
        if raw is None:
            return refuse(413, f"request body larger than {MAX_BODY} bytes")
        stamp = req.headers.get("X-Slack-Request-Timestamp", "")
        signature = req.headers.get("X-Slack-Signature", "")
        if not (stamp.isascii() and stamp.isdigit()) or not signature:
            return refuse(400, "X-Slack-Request-Timestamp (a number) and X-Slack-Signature are required")
        # bolt's own adapter passes werkzeug's Headers under a type: ignore; BoltRequest is typed for a mapping.
        # bolt's x-slack-bolt-* headers (lazy-only re-dispatch) are not signed: from the outside they would let a
        # replayed request skip the acknowledgement and the de-duplication, so they never pass the door.
        headers: dict[str, str | Sequence[str]] = {
            name.lower(): req.headers.getlist(name) for name, _ in req.headers.items()
            if not name.lower().startswith("x-slack-bolt-")}
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return refuse(400, "request body is not UTF-8")
        try:
            bolt_req = BoltRequest(body=body, query=req.query_string.decode("latin-1"), headers=headers)
        except (ValueError, TypeError, AttributeError, KeyError):   # bad JSON, a payload that is not an object
            return refuse(400, "request body is not a Slack payload")
        if not isinstance(bolt_req.body, dict) or not _shaped(bolt_req.body):
            return refuse(400, "request body is not a Slack payload")
        try:
            # bolt verifies the signature first thing in dispatch (its log line of the body filtered out above).
            hand_off_failure()
            answer = self.app.dispatch(bolt_req)
        except Exception:
            # Signed but shaped unlike anything Slack sends, it tripped bolt's own dispatch (e.g. an action
            # list that is empty): the sender's fault, told as such; the reference finds it in the log.
            ref = uuid.uuid4().hex[:8]
            log.warning("malformed signed request %s (%d bytes) broke dispatch", ref, len(raw), exc_info=True)
            return refuse(400, f"malformed Slack payload (reference {ref})")
        failed = hand_off_failure()
        if failed is not None:     # verified, but the work could not be queued: the user is told, nothing was done
            return jsonify(response_type="ephemeral", text=f":warning: {failed}")
        if answer.status == 401:
            log.info("refused a request with a bad or stale signature (%d bytes from %s)", len(raw), req.remote_addr)
        return to_flask_response(answer)


def _shaped(body: dict[str, Any]) -> bool:
    """Whether bolt's own extractors can read `body`: it runs them all on every request and answers 500 when
    one trips on a shape Slack never sends (an empty `actions` list, a `view` that is a string)."""
    try:
        for extract in _EXTRACTORS:
            extract(body)
    except (LookupError, TypeError, AttributeError, ValueError):
        return False
    return True


def _body(req: Request) -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY (then at most MAX_BODY + 1 bytes were read)."""
    try:
        # A Content-Length past MAX_CONTENT_LENGTH (MAX_BODY + 1) raises here, unread. A chunked body is cut at
        # that limit, silently by werkzeug's own server and with RequestEntityTooLarge by gunicorn's stream (it
        # also raises on a read at the limit, so the byte past MAX_BODY has to fall inside it, not after it).
        raw = req.stream.read()
    except RequestEntityTooLarge:
        return None
    return None if len(raw) > MAX_BODY else raw
