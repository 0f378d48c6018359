"""The bot's public endpoint under hostile traffic: `tagpin bot` as a real process, its memory, its answers, its log."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers

SECRET = "endpoint-signing-secret-0123456789"
MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotProcess:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    logs: tuple[Path, Path]       # the process's stderr and TAGPIN_LOG_FILE

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/slack/events"

    def status(self, key: str) -> int:
        """A /proc/PID/status figure in KiB (VmRSS now, VmHWM the peak so far)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {key} for pid {self.proc.pid}")

    def log_text(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.logs if p.exists())


@pytest.fixture(scope="module")
def bot_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """`python -m bot bot` on a free loopback port, its Web API the local stand-in, its log in files."""
    tmp = tmp_path_factory.mktemp("endpoint")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with LocalSlackAPI() as api:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp}/t.db",
               "TAGPIN_SLACK_API_URL": api.url, "SLACK_BOT_TOKEN": "xoxb-endpoint", "SLACK_SIGNING_SECRET": SECRET,
               "TAGPIN_BIND": f"127.0.0.1:{port}", "TAGPIN_LOG_FILE": str(tmp / "tagpin.log"),
               "TAGPIN_DEPLOYERS": "UALICE"}
        stderr = tmp / "stderr.log"
        with stderr.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "bot", "bot"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
        bot = BotProcess(proc, "127.0.0.1", port, (stderr, tmp / "tagpin.log"))
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, bot.log_text().decode(errors="replace")
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "tagpin bot did not start"
                time.sleep(0.2)
            yield bot
        finally:
            proc.terminate()
            proc.wait(10)


def _status_line(sock: socket.socket) -> int | None:
    """The status code the server answered with, or None when it dropped the connection without one."""
    data = b""
    try:
        while b"\r\n" not in data:
            piece = sock.recv(4096)
            if not piece:
                break
            data += piece
    except (ConnectionResetError, TimeoutError):
        pass
    first = data.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


def forge(bot: BotProcess, total: int, *, chunked: bool, marker: bytes) -> tuple[int | None, int]:
    """POST `total` bytes of forged body (a stream of `marker`); the status and how many bytes went before it."""
    head = (f"POST /slack/events HTTP/1.1\r\nHost: {bot.host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n") + "\r\n")
    block = (marker * (MiB // len(marker) + 1))[:MiB]
    sent = 0
    with socket.create_connection((bot.host, bot.port), timeout=60) as sock:
        sock.sendall(head.encode())
        try:
            while sent < total:
                readable, writable, _ = select.select([sock], [sock], [], 30)
                if readable:          # the server answered (or hung up) before the body was all sent
                    break
                if writable:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                    sent += len(block)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _status_line(sock), sent


def test_a_forged_100_mb_body_is_refused_413_unread_and_the_bot_stays_small(bot_process: BotProcess) -> None:
    marker = b"forged-body-" + uuid.uuid4().hex.encode() + b"&"
    assert requests.get(f"http://{bot_process.host}:{bot_process.port}/healthz", timeout=5).ok
    before = bot_process.status("VmRSS")
    results: list[tuple[int | None, int]] = []

    def one(chunked: bool) -> None:
        results.append(forge(bot_process, 100 * MiB, chunked=chunked, marker=marker))

    threads = [threading.Thread(target=one, args=(i % 2 == 1,)) for i in range(4)]   # 2 sized, 2 chunked at once
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    peak_growth_mb = (bot_process.status("VmHWM") - before) / 1024
    print(f"\nRSS before {before / 1024:.1f} MB, peak growth {peak_growth_mb:.1f} MB, answers {results}")
    assert [status for status, _ in results] == [413] * 4, results
    assert all(sent <= 16 * MiB for _, sent in results), results    # refused early (socket buffers), not at 100 MB
    assert peak_growth_mb < 50
    assert marker not in bot_process.log_text()
    assert requests.get(f"http://{bot_process.host}:{bot_process.port}/healthz", timeout=5).ok


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_a_body_just_over_one_mib_is_413_and_one_mib_is_not(bot_process: BotProcess, chunked: bool) -> None:
    def post(body: bytes) -> int:
        # requests sends a generator chunked (no Content-Length): gunicorn's stream then enforces the limit itself
        data = (body[i:i + 65536] for i in range(0, len(body), 65536)) if chunked else body
        return requests.post(bot_process.url, data=data, headers=signed_headers(SECRET, body), timeout=10).status_code

    fill = b"c" if chunked else b"s"      # the same signed body twice would be a retry, answered as one
    assert post(b"a=" + fill * MiB) == 413
    assert post(b"a=" + fill * (MiB - 2)) == 404    # signed, exactly 1 MiB, no listener for it: bolt's "unhandled"


def test_rejected_bodies_and_signatures_never_reach_the_log(bot_process: BotProcess) -> None:
    marker = "forged-" + uuid.uuid4().hex
    signature = "v0=" + uuid.uuid4().hex * 2
    size_before = sum(p.stat().st_size for p in bot_process.logs if p.exists())
    for i in range(20):
        body = urlencode({"command": "/deploy", "text": f"{marker} {i}", "filler": marker * 1000})
        headers = signed_headers(SECRET, body) | {"X-Slack-Signature": signature}
        assert requests.post(bot_process.url, data=body, headers=headers, timeout=10).status_code == 401
    log = bot_process.log_text()
    assert marker.encode() not in log and signature.encode() not in log
    growth = sum(p.stat().st_size for p in bot_process.logs if p.exists()) - size_before
    assert growth < 20 * 500, f"{growth} bytes of log for 20 refused requests of 40 KB each"


def _signed(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    return signed_headers(SECRET, body) | {"Content-Type": content_type}


TABLE: list[tuple[str, bytes, dict[str, str], int]] = [
    ("no Slack headers", b"command=%2Ftagpin&text=help", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("timestamp not a number", b"command=%2Ftagpin", {"X-Slack-Request-Timestamp": "soon",
                                                     "X-Slack-Signature": "v0=00"}, 400),
    ("signature missing", b"command=%2Ftagpin", {"X-Slack-Request-Timestamp": str(int(time.time()))}, 400),
    ("bad JSON in payload=", b"payload=%7Bnot-json", _signed(b"payload=%7Bnot-json"), 400),
    ("payload= a JSON list", b"payload=%5B1%5D", _signed(b"payload=%5B1%5D"), 400),
    ("payload= a JSON string", b"payload=%22x%22", _signed(b"payload=%22x%22"), 400),
    ("JSON body not JSON", b"{nope", _signed(b"{nope", "application/json"), 400),
    ("JSON body a list", b"[1, 2]", _signed(b"[1, 2]", "application/json"), 400),
    ("non-UTF-8 bytes", b"command=%2Ftagpin&text=\xff\xfe", _signed(b"command=%2Ftagpin&text=\xff\xfe"), 400),
    ("block_actions without actions", b"payload=" + quote(json.dumps({"type": "block_actions", "actions": []})
                                                          ).encode(), {}, 400),
]


@pytest.mark.parametrize(("name", "body", "headers", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_a_malformed_request_is_answered_4xx_without_a_traceback(
        bot_process: BotProcess, name: str, body: bytes, headers: dict[str, str], expected: int) -> None:
    reply = requests.post(bot_process.url, data=body, headers=headers or _signed(body), timeout=10)
    assert reply.status_code == expected, (name, reply.status_code, reply.text[:300])
    assert "Traceback" not in reply.text and "<html" not in reply.text.lower()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4), max_leaves=12)
# Each strategy carries a defect by construction, so every request is malformed and must be refused with a 4xx.
MALFORMED = st.one_of(
    st.binary(max_size=300).map(lambda b: (b"\xff" + b, "application/x-www-form-urlencoded", True)),  # not UTF-8
    st.text(max_size=200).map(lambda t: (b"payload=" + quote("{" + t).encode(), "application/x-www-form-urlencoded",
                                         True)),                                             # JSON cut open
    JSON.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: (json.dumps(v).encode(), "application/json", True)),                          # not an object
    JSON.map(lambda v: (b"payload=" + quote(json.dumps(
        v if not isinstance(v, dict) else {**v, "type": "block_actions", "actions": v.get("actions", [])})).encode(),
        "application/x-www-form-urlencoded", True)),                                            # no usable action
    st.binary(max_size=300).map(lambda b: (b, "application/x-www-form-urlencoded", False)),    # unsigned
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=MALFORMED, timestamp=st.one_of(st.none(), st.text(alphabet="0123456789.-+eabc", max_size=12)))
def test_a_thousand_malformed_requests_get_4xx_and_none_5xx(
        bot_process: BotProcess, case: tuple[bytes, str, bool], timestamp: str | None) -> None:
    body, content_type, signed = case
    headers = _signed(body, content_type) if signed else {
        "Content-Type": content_type, "X-Slack-Signature": "v0=" + "1" * 64,
        **({"X-Slack-Request-Timestamp": timestamp} if timestamp is not None else {})}
    reply = requests.post(bot_process.url, data=body, headers=headers, timeout=10)
    assert 400 <= reply.status_code < 500, (body[:200], headers, reply.status_code, reply.text[:300])
    assert "Traceback" not in reply.text
