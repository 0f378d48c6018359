"""The one wrapper of deferred work: an error in a lazy listener becomes one answer to the user (bolt's @app.error
does not reach lazy listeners). Where the work runs, and its counting, is bot.slack.handoff's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_bolt.context.respond import Respond

from bot.slack.failures import translate
from bot.slack.posting import safe_respond
from bot.slack.runtime import Runtime

Handler = Callable[[Runtime, dict[str, Any], Respond], None]


def acknowledge(answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: {}
                ) -> Callable[[Ack, dict[str, Any]], None]:
    """Within Slack's 3 seconds, never waiting on Docker, the registry or the Web API: `answer` only parses."""
    def ack_now(ack: Ack, body: dict[str, Any]) -> None:
        ack(**answer(body))
    return ack_now


def deferred(rt: Runtime, handler: Handler, where: str | Callable[[dict[str, Any]], str],
             **options: Any) -> Callable[[dict[str, Any], Respond], None]:
    """The slow part of a request, after the acknowledgement; `options` shape the error answer (a click's error is
    a new message, not a replacement of the one clicked)."""
    def run(body: dict[str, Any], respond: Respond) -> None:
        try:
            handler(rt, body, respond)
        except Exception as exc:
            safe_respond(respond, translate(exc, where if isinstance(where, str) else where(body)), **options)
    return run
