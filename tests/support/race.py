"""Racing processes for tests: real spawned processes released together, each handing back one result."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


def race(target: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    """Run `target(*a, go, out)` in a spawned process for each `a` in `args` and return the one item each puts on
    `out`, in the order they came. `target` must be a module-level function (spawn pickles it by name) that makes
    itself ready (imports, a connection) and then calls `go.wait(timeout)`: a barrier that lets them all go at once
    (a process still starting while another finishes the work would race nobody)."""
    spawn = multiprocessing.get_context("spawn")        # not fork: no inherited engine, lock or thread
    go, out = spawn.Barrier(len(args) + 1), spawn.Queue()
    procs = [spawn.Process(target=target, args=(*a, go, out)) for a in args]
    try:
        for p in procs:
            p.start()
        go.wait(timeout)
        return [out.get(timeout=timeout) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():                             # a racer that hung: the test fails, nothing is left behind
                p.kill()
