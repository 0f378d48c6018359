"""What the Docker engine said, in one line: its own explanation, or the system's words for a failed connection."""

from __future__ import annotations


def os_cause(exc: BaseException, depth: int = 0) -> OSError | None:
    """The OSError at the bottom of docker-py's wrapped connection errors (requests → urllib3 → socket)."""
    if depth > 6:
        return None
    if isinstance(exc, OSError) and exc.strerror:
        return exc
    for inner in (exc.__cause__, exc.__context__, *(a for a in exc.args if isinstance(a, BaseException))):
        found = os_cause(inner, depth + 1) if inner is not None else None
        if found is not None:
            return found
    return None


def short(exc: Exception) -> str:
    """The engine's own explanation, or for a connection failure the system's words ("No such file or
    directory", "Connection refused", "Permission denied") instead of a nested Python repr."""
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return last_line(str(explanation))
    cause = os_cause(exc)
    return cause.strerror if cause is not None and cause.strerror else last_line(str(exc))


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
