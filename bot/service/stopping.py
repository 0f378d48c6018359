"""A process-wide stop request (SIGTERM, SIGINT): long work checks it at step boundaries and stops cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

_requested = threading.Event()
_by: list[str] = []


def request(name: str) -> None:
    """Ask running work to stop at its next step boundary (what a signal handler calls)."""
    _by[:] = [name]
    _requested.set()


def requested() -> str | None:
    """The name of the signal that asked us to stop, or None."""
    return _by[0] if _requested.is_set() and _by else None


def clear() -> None:
    _requested.clear()
    _by.clear()


@contextmanager
def on_signals(then: Callable[[], None] = lambda: None) -> Iterator[None]:
    """SIGTERM/SIGINT set the stop request instead of killing the process mid-write (and call `then`, e.g. to
    stop a server); a second one while work is still stopping raises KeyboardInterrupt (the operator insists).
    Only the main thread can install it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if _requested.is_set():
            raise KeyboardInterrupt
        request(signal.Signals(signum).name)
        threading.Thread(target=then, name="tagpin-stopping", daemon=True).start()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
