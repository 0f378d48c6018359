"""A running bot for tests: the real bolt app behind the real Flask adapter on 127.0.0.1, the Web API stand-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from werkzeug.serving import make_server

from bot.__main__ import build_context
from bot.config import Settings
from bot.slack.app import build, flask_app, web_client
from bot.slack.localapi import LocalSlackAPI
from bot.slack.runtime import Runtime
from bot.slack.signing import action_body, signed_headers, slash_body

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token"
AUDIT = "CAUDIT"
CHANNEL = "COPS"
USERS = {"UALICE": "alice", "UBOB": "bob", "UCAROL": "carol"}


@dataclass
class Bot:
    api: LocalSlackAPI
    rt: Runtime
    url: str

    def command(self, command: str, text: str, user: str = "UALICE", *, secret: str = SECRET,
                timestamp: int | None = None, retry_num: int | None = None, body: str | None = None,
                ) -> requests.Response:
        body = body or slash_body(command, text, user_id=user, user_name=USERS.get(user, user.lower()),
                                  channel_id=CHANNEL, response_url=self.api.response_url(f"{user}-{time.time()}"))
        headers = signed_headers(secret, body, timestamp=timestamp, retry_num=retry_num)
        return requests.post(self.url, data=body.encode(), headers=headers, timeout=10)

    def click(self, action_id: str, value: str, user: str = "UALICE") -> requests.Response:
        body = action_body(action_id=action_id, value=value, user_id=user, user_name=USERS.get(user, user),
                           channel_id=CHANNEL, response_url=self.api.response_url(f"click-{user}-{time.time()}"))
        return requests.post(self.url, data=body.encode(), headers=signed_headers(SECRET, body), timeout=10)

    def wait(self, timeout: float = 180) -> None:
        assert self.rt.inflight.wait_idle(timeout), "the bot's lazy work did not finish"

    def responses(self) -> list[dict[str, Any]]:
        return [c.params for c in self.api.of("response_url")]

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return [c.params for c in self.api.of("chat.postMessage") if c.params.get("channel") == channel]

    def button(self, action_id: str = "tagpin_confirm") -> str:
        """The value of the newest button with that action id in any response."""
        for params in reversed(self.responses()):
            for block in params.get("blocks") or []:
                for element in block.get("elements", []):
                    if element.get("action_id") == action_id:
                        return str(element["value"])
        raise AssertionError(f"no {action_id} button in {self.responses()}")


@contextmanager
def running_bot(env: Mapping[str, str], **build_kw: Any) -> Iterator[Bot]:
    with LocalSlackAPI() as api:
        api.users.update(USERS)
        settings = Settings.from_env({**env, "TAGPIN_SLACK_API_URL": api.url, "SLACK_BOT_TOKEN": TOKEN,
                                      "SLACK_SIGNING_SECRET": SECRET, "TAGPIN_AUDIT_CHANNEL": AUDIT,
                                      "TAGPIN_DEPLOYERS": env.get("TAGPIN_DEPLOYERS", "UALICE,SOPS")})
        ctx = build_context(settings)
        app, rt = build(ctx, client=web_client(api.url, TOKEN, backoff=0.05), **build_kw)
        server = make_server("127.0.0.1", 0, flask_app(app), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Bot(api, rt, f"http://127.0.0.1:{server.server_port}/slack/events")
        finally:
            rt.inflight.wait_idle(120)
            server.shutdown()
            server.server_close()
