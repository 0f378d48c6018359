"""Progress listeners (Slack messages, a terminal) are told off the deploy's critical path, each call bounded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from bot.service.results import Event, Listener, StepName

log = logging.getLogger("tagpin.progress")
# How long a deploy waits for one progress call (a Slack post) before going on without it: a healthy Slack
# answers well within it (so progress stays in step with the work), a hanging one costs 0.5 s a step, not 10 s.
STEP_BOUND = 0.5


class BoundedSteps:
    """Calls `listener` in order on one worker thread; the deploy waits at most `bound` seconds a call, so a
    hanging chat service slows nothing it must not (the lease is renewed meanwhile anyway). A listener's error
    is logged, never raised into the deploy."""

    def __init__(self, listener: Listener, bound: float = STEP_BOUND) -> None:
        self.listener, self.bound = listener, bound
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagpin-progress")
        self._last: Future[None] | None = None
        self.late = 0                       # calls that outlived their bound

    def _call(self, event: Event) -> None:
        try:
            self.listener(event)
        except Exception:
            log.exception("progress listener failed at step %s; the deploy goes on", event.step)

    def __call__(self, step: StepName, detail: str) -> None:
        self._last = self._pool.submit(self._call, Event(step, detail))
        try:
            self._last.result(timeout=self.bound)
        except FutureTimeout:
            self.late += 1
            log.warning("progress step %s still not delivered after %.1f s; the deploy goes on", step, self.bound)

    def close(self, timeout: float = 30.0) -> None:
        """Let queued calls finish (bounded) so later messages follow them in order."""
        if self._last is not None:
            try:
                self._last.result(timeout=timeout)
            except FutureTimeout:
                log.warning("progress calls still pending after %.0f s; not waiting for them", timeout)
        self._pool.shutdown(wait=False)


Say = Callable[[StepName, str], None]      # how the use case reports a step: a BoundedSteps, in practice
