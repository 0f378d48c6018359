"""A scriptable HTTP server on 127.0.0.1 playing a registry, for behaviours one real registry cannot show."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict[str]
    body: bytes = b""
    target: str = field(default="")


Handler = Callable[[Seen], Reply]


def json_reply(obj: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


def paginated_tags(tags: Sequence[str], *, cap: int, style: str = "relative<>", honour_n: bool = True,
                   link: bool = True) -> Handler:
    """Serve tags/list pages of at most `cap` (or `n`) tags; `style` shapes the Link header."""

    def handle(seen: Seen) -> Reply:
        n = min(int(seen.query.get("n", [cap])[0]), cap) if honour_n else len(tags)
        last = seen.query.get("last", [""])[0]
        start = list(tags).index(last) + 1 if last in tags else 0
        page = list(tags[start:start + n])
        headers: dict[str, str] = {}
        if link and start + n < len(tags):
            target = f"{seen.path}?n={n}&last={page[-1]}"
            if style.startswith("absolute"):
                target = f"http://{seen.headers['Host']}{target}"
            headers["Link"] = f'<{target}>; rel="next"' if style.endswith("<>") else f'{target}; rel="next"'
        return json_reply({"name": seen.path.split("/v2/")[1].rsplit("/tags", 1)[0], "tags": page},
                          headers=headers)

    return handle


class FakeRegistry:
    """Runs `handler` for every request on an ephemeral loopback port and records what it saw."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda seen: json_reply({}, 404))
        self.seen: list[Seen] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One buffered write per reply and no Nagle: otherwise delayed ACKs add ~40 ms per request.
            wbufsize = -1
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, parts.path, parse_qs(parts.query),
                            CaseInsensitiveDict(dict(self.headers.items())),
                            self.rfile.read(length) if length else b"", self.path)
                outer.seen.append(seen)
                status, headers, body = outer.handler(seen)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout tests): nothing to tell it

            do_GET = do_HEAD = do_POST = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths(self, method: str | None = None) -> list[str]:
        return [s.path for s in self.seen if method is None or s.method == method]

    def __enter__(self) -> FakeRegistry:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
