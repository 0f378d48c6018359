"""The recovery file (format "tagpin-recovery", version 1): validation and a safe download filename."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

FORMAT = "tagpin-recovery"
VERSION = 1
MAX_DEPTH = 256
FAILURE_KINDS = ("network", "http", "timeout")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

# The words both sides say; tests/recovery/crafted_files.json holds them too, and recovery.js must match.
NOT_JSON = "Not valid JSON (cut short?), or nested too deep."
NOT_OURS = "This file is not a tagpin recovery file."
NEWER = "This file is newer than this page: reload and retry."
UNKNOWN_VERSION = "Unknown file version."
NO_CHECKSUM = "This file has no state or checksum."
MISMATCH = "Changed or damaged since it was saved (checksum mismatch)."
BAD_STATE = "Its state is not valid JSON, or nested too deep."


class InvalidRecoveryFile(ValueError):
    """The text is not a usable recovery file; `code` matches the snippet's RestoreError codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RecoveryFile:
    id: str
    app: str
    created_at: str
    document: dict[str, Any]

    @property
    def filename(self) -> str:
        """tagpin-recovery-<app>-<created_at>-<id8>.json, with every unsafe character folded to '-'."""
        parts = [_UNSAFE.sub("-", part).strip("-")[:40] for part in (self.app, self.created_at, self.id[:8])]
        return "-".join(["tagpin-recovery", *(p or "x" for p in parts)]) + ".json"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python reads NaN and Infinity; JSON.parse does not


def _js_json(text: str) -> Any:
    """JSON.parse's reading: every number a double (so no 4300-digit int limit, and true is never 1)."""
    value = json.loads(text, parse_int=float, parse_constant=_refuse_constant)
    # The snippet's deep(): no container deeper than MAX_DEPTH. Level by level and containers only, since a
    # 50 MB state holds millions of scalars.
    level = [value] if type(value) in (dict, list) else []
    for _ in range(MAX_DEPTH):
        level = [c for item in level for c in (item.values() if type(item) is dict else item)
                 if type(c) in (dict, list)]
    if level:
        raise ValueError("nested too deep")
    return value


def _read(text: str, code: str, message: str) -> Any:
    try:
        return _js_json(text)
    except (ValueError, RecursionError):  # json's own recursion limit sits above MAX_DEPTH
        raise InvalidRecoveryFile(code, message) from None


def _mb(size: int) -> str:
    # Number.prototype.toFixed(1) rounds halves up; Python's format would round them to even.
    tenths = (size * 20 + 1048576) // 2097152
    return f"{tenths // 10}.{tenths % 10} MB"


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # as TextEncoder, which the snippet hashes with: a lone surrogate is U+FFFD
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _valid(key: str, value: Any) -> bool:
    if key == "context":
        return isinstance(value, dict)
    if key == "failure":
        return value is None or (isinstance(value, dict) and value.get("kind") in FAILURE_KINDS)
    return isinstance(value, str) and value != ""


def parse(text: str, app: str | None = None, max_bytes: int | None = None) -> RecoveryFile:
    """Check what the snippet's restore() checks, in the same order and words, so both refuse the same files."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        raise InvalidRecoveryFile("too_large", f"This file is larger than the {_mb(max_bytes)} limit.")
    doc = _read(text.removeprefix("\ufeff"), "not_json", NOT_JSON)  # Blob.text() drops a BOM too
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidRecoveryFile("format", NOT_OURS)
    version = doc.get("version")  # a float (see _js_json) or not a number: never True, which == 1
    if not (isinstance(version, float) and version == VERSION):
        newer = isinstance(version, float) and version > VERSION
        raise InvalidRecoveryFile("version", NEWER if newer else UNKNOWN_VERSION)
    state, digest = doc.get("state"), doc.get("sha256")
    if not isinstance(state, str) or not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise InvalidRecoveryFile("format", NO_CHECKSUM)
    if hashlib.sha256(_utf8(state)).hexdigest() != digest:
        raise InvalidRecoveryFile("checksum", MISMATCH)
    for key in ("id", "created_at", "app", "context", "failure"):
        if not _valid(key, doc.get(key, ...)):
            raise InvalidRecoveryFile("format", f"Its {key} is missing or invalid.")
    if app is not None and doc["app"] != app:
        raise InvalidRecoveryFile("app", f'It belongs to "{doc["app"]}", not to "{app}".')
    _read(state, "state", BAD_STATE)
    return RecoveryFile(id=doc["id"], app=doc["app"], created_at=doc["created_at"], document=doc)
