"""What the service needs from the world outside it, as Protocols: the entry points wire the real things in."""

from __future__ import annotations

from typing import Any, Protocol


class PostFailed(Exception):
    """The chat service did not accept a post (down, rate limited past retries, refused)."""


class Poster(Protocol):
    """Where the audit trail's messages go (Slack's chat.postMessage in production, the local stand-in in tests)."""

    def post(self, channel: str, text: str, thread_ts: str | None, metadata: dict[str, Any]) -> str:
        """Post a message and return its ts; raise PostFailed when it was not posted."""
        ...
