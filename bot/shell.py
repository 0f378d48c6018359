"""`tagpin shell`: a local chat; each line enters the bolt app as a signed Slack request, replies print as text."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TextIO

from bot.service.context import Context
from bot.slack import plaintext
from bot.slack.app import build, flask_app, web_client
from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import action_body, signed_headers, slash_body

TOKEN = "xoxb-local-shell"
CHANNEL = "CSHELL"
SHELL_AUDIT = "CSHELLAUDIT"
INTRO = ("tagpin shell: type slash commands as in Slack (/deploy acme, /tagpin status acme, /drift, /audit, /rollback "
         "acme, /tagpin help); `confirm` or `cancel` answers buttons; `exit` quits.")


class Shell:
    def __init__(self, ctx: Context, api: LocalSlackAPI, *, user: str, name: str, out: TextIO) -> None:
        self.api, self.user, self.name, self.out = api, user, name, out
        self.secret = secrets.token_hex(16)        # this shell's own signing secret: requests are really signed
        s = ctx.settings
        settings = replace(s, slack_api_url=api.url, slack_bot_token=TOKEN, slack_signing_secret=self.secret,
                           # The shell's own audit channel: its rows never mix with the real bot's outbox.
                           slack_app_token=None, audit_channel=SHELL_AUDIT,
                           deployers=s.deployers or (user,))
        app, self.rt = build(replace(ctx, settings=settings), client=web_client(api.url, TOKEN, backoff=0.1))
        self.http = flask_app(app).test_client()
        self.users = {user: name, "UTAGPIN": "tagpin"}
        self.channels = {CHANNEL: "#shell", settings.audit_channel or "": "#audit"}
        self.seen = 0
        self.turn = 0
        if not s.deployers:
            self.say(f"(TAGPIN_DEPLOYERS is empty: in this shell @{name} may deploy)")

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def line(self, text: str) -> bool:
        """Handle one typed line; False when the shell should stop."""
        text = text.strip()
        if not text or text.startswith("#"):
            return True
        if text in ("exit", "quit"):
            return False
        if text in ("help", "?"):
            self.say(INTRO)
            return True
        self.turn += 1
        response_url = self.api.response_url(f"shell-{self.turn}")
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            body = slash_body(command, rest.strip(), user_id=self.user, user_name=self.name, channel_id=CHANNEL,
                              response_url=response_url)
        elif text in ("confirm", "cancel"):
            value = self._button(f"tagpin_{text}")
            if value is None:
                self.say("nothing to confirm or cancel")
                return True
            body = action_body(action_id=f"tagpin_{text}", value=value, user_id=self.user, user_name=self.name,
                               channel_id=CHANNEL, response_url=response_url)
        else:
            self.say(f"not a command: {text!r} (commands start with /; try /tagpin help)")
            return True
        reply = self.http.post("/slack/events", data=body, headers=signed_headers(self.secret, body))
        if reply.status_code != 200:
            self.say(f"(HTTP {reply.status_code}) {reply.get_data(as_text=True)}")
        elif reply.get_data():
            self.say(plaintext.call("response_url", reply.get_json(), self.users, self.channels) or "")
        self._drain()
        return True

    def _drain(self) -> None:
        """Print what the app sends while its lazy work runs, until it is idle and nothing more arrives."""
        while True:
            self.api.wait_for(self.seen + 1, 0.2)
            self._print_new()
            if not self.rt.inflight.busy and not self.api.wait_for(self.seen + 1, 0.3):
                return

    def _print_new(self) -> None:
        calls = self.api.calls[self.seen:]
        self.seen += len(calls)
        for call in calls:
            if call.status != 200:
                self.say(f"(Slack answered {call.method} with HTTP {call.status}; the SDK retries)")
                continue
            text = plaintext.call(call.method, call.params, self.users, self.channels)
            if text:
                self.say(text)

    def _button(self, action_id: str) -> str | None:
        for call in reversed(self.api.calls):
            for block in call.params.get("blocks") or []:
                for element in block.get("elements", []) if isinstance(block, dict) else []:
                    if isinstance(element, dict) and element.get("action_id") == action_id:
                        return str(element["value"])
        return None


def _lines(stream: TextIO, interactive: bool, out: TextIO) -> Iterator[str]:
    while True:
        if interactive:
            try:
                yield input("tagpin> ")
            except EOFError:
                return
        else:
            raw = stream.readline()
            if not raw:
                return
            print(f"tagpin> {raw.rstrip()}", file=out, flush=True)   # echo, so a piped session reads as a chat
            yield raw


def run_shell(ctx: Context, *, user: str = "ULOCAL", name: str = "you", stdin: TextIO | None = None,
              out: TextIO | None = None) -> int:
    stream, out = stdin or sys.stdin, out or sys.stdout
    with LocalSlackAPI() as api:
        shell = Shell(ctx, api, user=user, name=name, out=out)
        interactive = stream.isatty()
        if interactive:
            shell.say(INTRO)
        for text in _lines(stream, interactive, out):
            if not shell.line(text):
                break
        shell.rt.inflight.wait_idle(600)
    return 0
