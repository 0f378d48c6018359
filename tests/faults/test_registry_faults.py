"""Registry faults against real loopback servers: each is one clear error line, in bounded time, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.registry import RegistryClient
from bot.domain.references import parse_reference
from bot.errors import RateLimited, RegistryError, RegistryUnavailable
from tests.support.fake_registry import FakeRegistry, json_reply

TAGPIN = str(Path(sys.executable).with_name("tagpin"))
# Slack on top of the work itself for a loaded 2-core machine; the bounds are about retry policy, not speed.
SLACK = 0.6


def cli(tmp_path: Path, image: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "HOME": str(tmp_path), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"}
    started = time.monotonic()
    done = subprocess.run([TAGPIN, "resolve", image, "--json"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    return done, time.monotonic() - started


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture
def silent() -> Iterator[str]:
    """A registry that accepts connections and never answers (listening, never reading): a hung host."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)  # the kernel completes the handshake; nothing is ever sent back
        yield f"127.0.0.1:{s.getsockname()[1]}"


def timed(call: object) -> tuple[BaseException, float]:
    started = time.monotonic()
    try:
        call()  # type: ignore[operator]
    except RegistryError as exc:
        return exc, time.monotonic() - started
    raise AssertionError("no error raised")


def test_registry_down(closed_port: int, tmp_path: Path) -> None:
    error, took = timed(lambda: RegistryClient().tags(parse_reference(f"127.0.0.1:{closed_port}/acme/app")))
    assert isinstance(error, RegistryUnavailable)
    assert str(error) == f"registry unreachable (connection failed): 127.0.0.1:{closed_port}"
    assert took < 1.4 + SLACK  # urllib3: three connect retries, 0.2 + 0.4 + 0.8 s of back-off
    line = one_error_line(cli(tmp_path, f"127.0.0.1:{closed_port}/acme/app")[0])
    assert line == f"error: registry unreachable (connection failed): 127.0.0.1:{closed_port}"


def test_registry_answering_500(tmp_path: Path) -> None:
    with FakeRegistry(lambda seen: json_reply({"errors": [{"code": "UNKNOWN"}]}, 500)) as fake:
        error, took = timed(lambda: RegistryClient().tags(parse_reference(f"{fake.host}/acme/app")))
        assert isinstance(error, RegistryUnavailable)
        assert str(error) == f"registry answered HTTP 500: http://{fake.host}/v2/acme/app/tags/list"
        assert len(fake.paths()) == 3 and took < 0.6 + SLACK  # two status retries after 0.2 and 0.4 s
        done, took = cli(tmp_path, f"{fake.host}/acme/app")
        assert one_error_line(done) == f"error: {error}"
        assert took < 0.6 + 5  # plus the CLI's start-up (imports, database migration)


def test_registry_answering_429(tmp_path: Path) -> None:
    with FakeRegistry(lambda seen: json_reply({"errors": [{"code": "TOOMANYREQUESTS"}]}, 429,
                                              {"Retry-After": "1"})) as fake:
        client = RegistryClient(max_rate_limit_retries=2)
        error, took = timed(lambda: client.tags(parse_reference(f"{fake.host}/acme/app")))
        assert isinstance(error, RateLimited)
        assert str(error) == (f"{fake.host} kept answering HTTP 429 (rate limited) after 2 retries; try again "
                              "later or log in for a higher limit")
        assert 2.0 <= took < 2.0 + SLACK  # Retry-After honoured twice, then given up
        assert len(fake.paths()) == 3
        done, _ = cli(tmp_path, f"{fake.host}/acme/app")
        assert "kept answering HTTP 429 (rate limited) after 3 retries" in one_error_line(done)


def test_registry_hanging_past_the_timeout(silent: str) -> None:
    client = RegistryClient(timeout=0.5)
    error, took = timed(lambda: client.tags(parse_reference(f"{silent}/acme/app")))
    assert isinstance(error, RegistryUnavailable)
    assert str(error) == f"registry timed out after 0.5s: {silent}"
    assert 0.5 <= took < 0.5 + SLACK  # the timeout once, as the message says: a silent host is not retried


def test_hanging_after_the_probe_is_bounded_too(tmp_path: Path) -> None:
    # TLS probe answered (as plain http), then the listing hangs: the listing's own timeout, once.
    def slow(seen: object) -> tuple[int, dict[str, str], bytes]:
        time.sleep(3)
        return json_reply({"tags": []})

    with FakeRegistry(slow) as fake:
        error, took = timed(lambda: RegistryClient(timeout=0.5).tags(parse_reference(f"{fake.host}/acme/app")))
        assert isinstance(error, RegistryUnavailable)
        assert str(error) == f"registry timed out after 0.5s: http://{fake.host}/v2/acme/app/tags/list"
        assert took < 0.5 + SLACK
        assert json.dumps(str(error))  # safe to post: one plain line
