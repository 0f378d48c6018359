"""A local stand-in for the Slack Web API on 127.0.0.1: answers like Slack, records every call, can fail on cue."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Call:
    method: str                        # "chat.postMessage", … or "response_url" for a response URL
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    reply: dict[str, Any] | str = ""


@dataclass
class Fault:
    status: int
    times: int
    retry_after: int | None = None


class LocalSlackAPI:
    """`with LocalSlackAPI() as api:` serves `api.url` (a Web API base URL) and `api.response_url(…)`."""

    def __init__(self, bot_user: str = "UTAGPIN", team: str = "TLOCAL") -> None:
        self.bot_user, self.team = bot_user, team
        self.calls: list[Call] = []
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, str] = {}
        self.down = False                    # True: every connection is dropped without an answer
        self.hang: dict[str, float] = {}     # method → seconds to sit on each call before answering (a slow Slack)
        self._faults: dict[str, list[Fault]] = {}
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-slack-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def response_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/response/{key}"

    def __enter__(self) -> LocalSlackAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, method: str, status: int = 429, times: int = 1, retry_after: int | None = 1) -> None:
        """Answer the next `times` calls of `method` with `status` (429 carries Retry-After)."""
        self._faults.setdefault(method, []).append(Fault(status, times, retry_after))

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and c.status == 200]

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until at least `count` calls were recorded."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= count, timeout)

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        if self.hang.get(method):
            time.sleep(self.hang[method])
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            self._record(Call(method, params, status=fault.status))
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            error = "ratelimited" if fault.status == 429 else "fatal_error"
            return fault.status, {"ok": False, "error": error}, headers
        reply = self._reply(method, params)
        self._record(Call(method, params, reply=reply))
        return 200, reply, {}

    def _reply(self, method: str, params: dict[str, Any]) -> dict[str, Any] | str:
        if method == "response_url":
            return "ok"
        if method == "auth.test":
            return {"ok": True, "url": "https://local.slack.invalid/", "team": "local", "user": "tagpin",
                    "team_id": self.team, "user_id": self.bot_user, "bot_id": "BTAGPIN"}
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"text": params.get("text", ""), "ts": ts}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
        if method == "usergroups.users.list":
            group = str(params.get("usergroup", ""))
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.usergroups[group]}
        if method == "users.info":
            user = str(params.get("user", ""))
            return {"ok": True, "user": {"id": user, "name": self.users.get(user, user.lower())}}
        return {"ok": False, "error": "unknown_method"}

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()


def _handler(api: LocalSlackAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the calls are recorded instead
            pass

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            if "?" in self.path:
                raw = raw or self.path.split("?", 1)[1]      # GET methods carry their arguments in the query
            if api.down:
                self.close_connection = True       # like an outage: the connection drops, no answer
                return
            if self.path.startswith("/response/"):
                method = "response_url"
            elif self.path.startswith("/api/"):
                method = self.path[len("/api/"):].split("?", 1)[0]
            else:
                method = self.path
            params = _params(raw, self.headers.get("Content-Type") or "")
            status, body, headers = api.answer(method, params)
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _params(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        loaded = json.loads(raw or "{}")
        return loaded if isinstance(loaded, dict) else {"body": loaded}
    params: dict[str, Any] = dict(parse_qsl(raw))
    for key in ("blocks", "metadata"):            # form-encoded calls carry JSON in these fields
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params
