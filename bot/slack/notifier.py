"""Drift notices in Slack: posted once, edited in place, reminded in their thread (broadcast to the channel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import ChatError
from bot.service.rows import NoticeRow
from bot.slack import notice_blocks


class SlackNotifier:
    """Posts a notice once, edits it in place afterwards, reminds in its thread (broadcast to the channel)."""

    def __init__(self, client: WebClient, channel: str) -> None:
        self.client, self.channel = client, channel

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except SlackApiError as exc:
            raise ChatError(f"Slack refused {what}: {exc.response.get('error', 'unknown error')}") from exc
        except (SlackClientError, OSError) as exc:
            raise ChatError(f"Slack unreachable for {what}: {exc}") from exc

    def post(self, notice: NoticeRow) -> str:
        answer = self._call("chat.postMessage", self.client.chat_postMessage, channel=notice.channel or self.channel,
                            text=notice_blocks.text(notice), blocks=notice_blocks.blocks(notice),
                            metadata=notice_blocks.metadata(notice), unfurl_links=False)
        return str(answer["ts"])

    def update(self, notice: NoticeRow) -> None:
        self._call("chat.update", self.client.chat_update, channel=notice.channel or self.channel, ts=notice.ts,
                   text=notice_blocks.text(notice), blocks=notice_blocks.blocks(notice),
                   metadata=notice_blocks.metadata(notice))

    def remind(self, notice: NoticeRow) -> None:
        self._call("chat.postMessage", self.client.chat_postMessage, channel=notice.channel or self.channel,
                   thread_ts=notice.ts, reply_broadcast=True, unfurl_links=False,
                   text=f"Still true after {notice.reminders} reminder(s): {notice_blocks.text(notice)}")
