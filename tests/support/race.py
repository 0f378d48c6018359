"""Racing processes for tests: real spawned processes released together, each handing back one result."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


def race(target: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    """Start `target(*a, go, out)` in a spawned process for each `a` in `args`, set `go` once all are started (so
    they really race), and return the one item each puts on `out`, in the order they came. `target` must be a
    module-level function (spawn pickles it by name) that waits on `go` before it starts."""
    spawn = multiprocessing.get_context("spawn")        # not fork: no inherited engine, lock or thread
    go, out = spawn.Event(), spawn.Queue()
    procs = [spawn.Process(target=target, args=(*a, go, out)) for a in args]
    try:
        for p in procs:
            p.start()
        go.set()
        return [out.get(timeout=timeout) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():                             # a racer that hung: the test fails, nothing is left behind
                p.kill()
