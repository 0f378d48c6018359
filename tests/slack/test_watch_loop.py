"""The watcher loop: a failing scan is logged and the next one still runs; it stops when told, jittered."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from bot.domain.times import utcnow
from bot.errors import RegistryUnavailable
from bot.service.watching import WatchReport
from bot.watch import run_forever


class FlakyWatcher:
    """Fails with an expected error, then with a bug, then works: the loop must survive both."""

    def __init__(self, stop: threading.Event, scans: int) -> None:
        self.calls, self.stop, self.scans = 0, stop, scans

    def scan_once(self) -> Any:
        self.calls += 1
        if self.calls >= self.scans:
            self.stop.set()
        if self.calls == 1:
            raise RegistryUnavailable("registry unreachable (connection failed): http://127.0.0.1:1/v2/")
        if self.calls == 2:
            raise KeyError("a bug")
        return WatchReport(utcnow(), [])


def test_the_loop_outlives_failing_scans_and_stops_when_told(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    watcher = FlakyWatcher(stop, scans=3)
    waits: list[float] = []
    real_wait = stop.wait

    def wait(timeout: float | None = None) -> bool:
        if timeout is not None:
            waits.append(timeout)
        return real_wait(0.01)

    stop.wait = wait  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="tagpin.watch"):
        run_forever(watcher, 300.0, stop=stop, rand=iter([0.0, 0.5, 1.0]).__next__)  # type: ignore[arg-type]
    assert watcher.calls == 3
    assert waits == [270.0, 300.0, 330.0]   # interval ± 10 % (jitter), and the set stop ends the last wait
    messages = [r.getMessage() for r in caplog.records]
    assert any("scan failed: registry unreachable" in m for m in messages)
    bug = next(r for r in caplog.records if "bug" in r.getMessage())
    assert bug.exc_info is not None and "a bug" in str(bug.exc_info[1])
    assert any(m.startswith("scan: 0 findings") for m in messages)
