"""A per-client fixed-window rate limiter in memory: stops one tab or script flooding the beacon table."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Past this many tracked clients we drop finished windows, so memory stays bounded under a flood.
_MAX_KEYS = 10_000


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one request; return 0 if allowed, else the seconds until the client may retry."""
        now = self._clock()
        window = int(now // 60)
        with self._lock:
            if len(self._windows) > _MAX_KEYS:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                count = 0
            if count >= self.per_minute:
                return (window + 1) * 60 - now
            self._windows[key] = (window, count + 1)
            return 0.0
