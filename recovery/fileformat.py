"""The recovery file (format "tagpin-recovery", version 1): validation and a safe download filename."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

FORMAT = "tagpin-recovery"
VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


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


def parse(text: str) -> RecoveryFile:
    """Check what the snippet's restore() checks, in the same order, so both sides refuse the same files."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidRecoveryFile("not_json", "not a recovery file: not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidRecoveryFile("format", "not a tagpin recovery file")
    if doc.get("version") != VERSION:
        raise InvalidRecoveryFile("version", f"unsupported recovery file version {doc.get('version')!r}")
    state, digest = doc.get("state"), doc.get("sha256")
    if not isinstance(state, str) or not isinstance(digest, str) or not _SHA256.match(digest):
        raise InvalidRecoveryFile("format", "the recovery file has no state or checksum")
    try:
        actual = hashlib.sha256(state.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:  # a lone surrogate cannot have come from the snippet's UTF-8 hashing
        actual = ""
    if actual != digest:
        raise InvalidRecoveryFile("checksum", "the recovery file was changed or damaged (checksum mismatch)")
    ident, app, created = doc.get("id"), doc.get("app"), doc.get("created_at")
    if not all(isinstance(v, str) and v for v in (ident, app, created)):
        raise InvalidRecoveryFile("format", "the recovery file has no id, app or created_at")
    return RecoveryFile(id=str(ident), app=str(app), created_at=str(created), document=doc)
