"""What every listener shares: the service context, the Web API client, authorization, the trail, the work running."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot.service.context import Context
from bot.service.trail import Trail
from bot.slack.auth import Authorizer


class Inflight:
    """Counts work still running after an acknowledgement, so the shell and tests can wait for it to finish."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def begin(self) -> None:
        with self._cond:
            self._count += 1

    def end(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._count > 0


@dataclass
class Runtime:
    ctx: Context
    client: WebClient
    authorizer: Authorizer
    trail: Trail
    inflight: Inflight = field(default_factory=Inflight)


def who(user_id: str, user_name: str | None) -> str:
    """The actor recorded in the audit trail: the stable id, and the name a human recognises."""
    return f"{user_id} (@{user_name})" if user_name and user_name != user_id else user_id


def user_of(payload: dict[str, Any]) -> tuple[str, str]:
    """(user id, actor) of a slash command or an interaction payload."""
    if "user_id" in payload:
        return str(payload["user_id"]), who(str(payload["user_id"]), payload.get("user_name"))
    user = payload.get("user") or {}
    return str(user.get("id", "")), who(str(user.get("id", "")), user.get("username") or user.get("name"))
