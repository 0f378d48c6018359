"""Outgoing messages: the audit-trail poster and the one deploy progress message that is updated in place."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.service.ports import PostFailed
from bot.slack import blocks

log = logging.getLogger("tagpin.slack")
# Errors of a post that did not happen: API refusals, 429 past the retries, connection failures.
POST_ERRORS = (SlackClientError, OSError)


class SlackPoster:
    """The trail's Poster: chat.postMessage with message metadata, threaded under the parent's ts."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, text: str, thread_ts: str | None, metadata: dict[str, Any]) -> str:
        try:
            reply = self.client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts,
                                                 metadata=metadata, unfurl_links=False)
        except POST_ERRORS as exc:
            raise PostFailed(f"{type(exc).__name__}: {exc}") from exc
        return str(reply["ts"])


def safe_respond(respond: Respond, message: blocks.Message, **options: Any) -> None:
    """An ephemeral answer that must not raise: when even that fails, the log keeps it."""
    try:
        respond(response_type="ephemeral", **options, **message)
    except POST_ERRORS as exc:
        log.warning("could not answer through the response URL (%s): %s", exc, message.get("text"))


class Progress:
    """chat.postMessage once, chat.update after; where the bot cannot post, the response URL instead."""

    def __init__(self, client: WebClient, channel: str, respond: Respond | None, title: str) -> None:
        self.client, self.channel, self.respond, self.title = client, channel, respond, title
        self.reached: list[str] = []
        self.detail = ""
        self.ts: str | None = None
        self.via_respond = False

    def start(self, message: blocks.Message | None = None) -> None:
        message = message or blocks.progress(self.title, self.reached, "starting")
        try:
            self.ts = str(self.client.chat_postMessage(channel=self.channel, **message)["ts"])
        except POST_ERRORS as exc:
            log.info("progress falls back to the response URL (%s)", exc)
            self.via_respond = True
            self._send(message)

    def step(self, step: str, detail: str) -> None:
        if step in blocks.STEPS and step not in self.reached:
            self.reached.append(step)
        self.detail = f"{step}: {detail}" if step not in blocks.STEPS else detail
        self.show(blocks.progress(self.title, self.reached, self.detail))

    def finish(self, final: str) -> None:
        self.show(blocks.progress(self.title, self.reached, "", final=final))

    def show(self, message: blocks.Message) -> None:
        """The message as it is now, in place of what it said."""
        if self.ts is not None:
            try:
                self.client.chat_update(channel=self.channel, ts=self.ts, **message)
                return
            except POST_ERRORS as exc:
                # Progress is a courtesy: a failed update never stops a deploy (the trail keeps the record).
                log.warning("progress update failed: %s", exc)
                return
        if self.via_respond:
            self._send(message)

    def _send(self, message: blocks.Message) -> None:
        if self.respond is None:
            return
        try:
            self.respond(replace_original=True, response_type="ephemeral", **message)
        except POST_ERRORS as exc:
            log.warning("progress via response URL failed: %s", exc)
