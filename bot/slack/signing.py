"""Requests signed as Slack signs them (v0 HMAC-SHA256 over `v0:{timestamp}:{body}`), for the shell and tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"


def signed_headers(secret: str, body: str | bytes, *, timestamp: int | None = None,
                   retry_num: int | None = None) -> dict[str, str]:
    """The headers Slack sends with `body`: a timestamp and its signature (plus the retry headers on a re-send)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    # Slack signs the bytes it sends, so a test can sign bytes that are not UTF-8 (the SDK's signer takes str).
    raw = body if isinstance(body, bytes) else body.encode()
    signature = "v0=" + hmac.new(secret.encode(), b"v0:%s:%s" % (stamp.encode(), raw), hashlib.sha256).hexdigest()
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    if retry_num is not None:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


def slash_body(command: str, text: str, *, user_id: str, user_name: str, channel_id: str, response_url: str,
               team_id: str = "TLOCAL", trigger_id: str | None = None) -> str:
    """A slash-command payload as Slack posts it (form-encoded)."""
    return urlencode({
        "token": "unused-verification-token", "team_id": team_id, "team_domain": "local",
        "channel_id": channel_id, "channel_name": channel_id.lower(), "user_id": user_id, "user_name": user_name,
        "command": command, "text": text, "api_app_id": "ATAGPIN", "response_url": response_url,
        "trigger_id": trigger_id or f"{int(time.time())}.{uuid.uuid4().hex[:12]}",
    })


def action_body(*, action_id: str, value: str, user_id: str, user_name: str, channel_id: str, response_url: str,
                team_id: str = "TLOCAL") -> str:
    """A block_actions payload (a button click) as Slack posts it: form field `payload` holding JSON."""
    payload = {
        "type": "block_actions", "team": {"id": team_id, "domain": "local"},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": "ATAGPIN", "token": "unused-verification-token",
        "container": {"type": "message", "is_ephemeral": True, "channel_id": channel_id},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex[:12]}",
        "channel": {"id": channel_id, "name": channel_id.lower()}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "tagpin_confirm", "value": value,
                     "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": json.dumps(payload)})
