"""Writes crafted_files.json: recovery files built to trip a validator, each with what both sides must say.

Run `python tests/recovery/gen_crafted_files.py` after changing a case; the JSON is committed so the table
reads the same from Python (recovery/fileformat.py) and from Chromium (static/recovery.js's restore()).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("crafted_files.json")
STATE = json.dumps({"text_id": "t42", "spans": [{"start": 14, "end": 26, "label": "PERSON"}]})
NOT_JSON = "Not valid JSON (cut short?), or nested too deep."
NOT_OURS = "This file is not a tagpin recovery file."
NEWER = "This file is newer than this page: reload and retry."
UNKNOWN = "Unknown file version."
NO_SUM = "This file has no state or checksum."
MISMATCH = "Changed or damaged since it was saved (checksum mismatch)."
BAD_STATE = "Its state is not valid JSON, or nested too deep."
BAD = "Its {} is missing or invalid."


def sha(state: str) -> str:
    """As TextEncoder hashes: a lone surrogate becomes U+FFFD."""
    return hashlib.sha256(re.sub(r"[\ud800-\udfff]", "\ufffd", state).encode()).hexdigest()


def doc(state: str = STATE, **fields: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "format": "tagpin-recovery", "version": 1, "id": "0123456789abcdef0123456789abcdef",
        "created_at": "2024-05-01T10:00:00.000Z", "app": "annotator", "app_version": "1.10.0",
        "context": {"user": "u1", "task": "t42"},
        "failure": {"kind": "http", "status": 409, "message": "HTTP 409"}, "state": state, "sha256": sha(state),
    }
    d.update(fields)
    return {k: v for k, v in d.items() if v is not DROP}


DROP = object()


def text(**fields: Any) -> str:
    return json.dumps(doc(**fields))


def raw(replace: str, by: str, **fields: Any) -> str:
    """A file whose JSON text is edited after encoding (for what json.dumps cannot write)."""
    t = text(**fields)
    assert replace in t, replace
    return t.replace(replace, by, 1)


def nested(n: int) -> str:
    return "[" * n + "]" * n


CASES: list[tuple[str, str, str | None, str | None]] = [
    ("a file the snippet would write", text(), None, None),
    ("failure null (a 'Download my work' file)", text(failure=None), None, None),
    ("version true (True == 1 in Python)", text(version=True), "version", UNKNOWN),
    ("version 1.0 (JSON.parse cannot tell it from 1)", raw('"version": 1', '"version": 1.0'), None, None),
    ("version 2", text(version=2), "version", NEWER),
    ("version \"2\" (a string is not newer)", text(version="2"), "version", UNKNOWN),
    ("version 1e400 (Infinity)", raw('"version": 1', '"version": 1e400'), "version", NEWER),
    ("version a 5000-digit integer", raw('"version": 1', '"version": ' + "9" * 5000), "version", NEWER),
    ("version missing", text(version=DROP), "version", UNKNOWN),
    ("not JSON (cut short)", text()[:40], "not_json", NOT_JSON),
    ("empty file", "", "not_json", NOT_JSON),
    ("NaN in context (Python reads it, JSON.parse does not)", raw('"user": "u1"', '"user": NaN'), "not_json",
     NOT_JSON),
    ("a top-level array", json.dumps([doc()]), "format", NOT_OURS),
    ("a top-level string", json.dumps("tagpin-recovery"), "format", NOT_OURS),
    ("top-level null", "null", "format", NOT_OURS),
    ("the file under a __proto__ key", json.dumps({"__proto__": doc()}), "format", NOT_OURS),
    ("format in capitals", text(format="TAGPIN-RECOVERY"), "format", NOT_OURS),
    ("a 5000-digit integer in context (Python's int limit)", raw('"u1"', "1" + "0" * 4999), None, None),
    ("1e400 as failure status (Infinity)", raw('"status": 409', '"status": 1e400'), None, None),
    ("the file nested 256 levels deep", raw('{"user": "u1", "task": "t42"}', '{"a": ' + nested(254) + "}"),
     None, None),
    ("the file nested 257 levels deep", raw('{"user": "u1", "task": "t42"}', '{"a": ' + nested(255) + "}"),
     "not_json", NOT_JSON),
    ("context 5000 deep (past Python's recursion limit)",
     raw('{"user": "u1", "task": "t42"}', "{\"a\": " + nested(5000) + "}"), "not_json", NOT_JSON),
    ("5000 deep and cut short", raw('{"user": "u1", "task": "t42"}', "[" * 5000)[:-30], "not_json", NOT_JSON),
    ("state not a string", json.dumps({**doc(), "state": {"spans": []}}), "format", NO_SUM),
    ("sha256 missing", text(sha256=DROP), "format", NO_SUM),
    ("sha256 in capitals", text(sha256=sha(STATE).upper()), "format", NO_SUM),
    ("sha256 with a trailing newline", text(sha256=sha(STATE) + "\n"), "format", NO_SUM),
    ("sha256 in an array", text(sha256=[sha(STATE)]), "format", NO_SUM),
    ("state changed after saving", text(sha256=sha(STATE.replace("PERSON", "PERS0N"))), "checksum", MISMATCH),
    ("state a lone surrogate, hashed as TextEncoder does", text(state='"\ud800"'), None, None),
    ("state a lone surrogate, hashed as raw UTF-16", text(
        state='"\ud800"', sha256=hashlib.sha256('"\ud800"'.encode("utf-8", "surrogatepass")).hexdigest()),
     "checksum", MISMATCH),
    ("two state keys: the last one counts", raw('"state": ', '"state": "[]", "state": '), None, None),
    ("id missing", text(id=DROP), "format", BAD.format("id")),
    ("created_at a number", text(created_at=5), "format", BAD.format("created_at")),
    ("created_at empty", text(created_at=""), "format", BAD.format("created_at")),
    ("app a number", text(app=5), "format", BAD.format("app")),
    ("context a number", text(context=5), "format", BAD.format("context")),
    ("context null", text(context=None), "format", BAD.format("context")),
    ("context an array", text(context=["u1"]), "format", BAD.format("context")),
    ("context missing", text(context=DROP), "format", BAD.format("context")),
    ("failure a number", text(failure=5), "format", BAD.format("failure")),
    ("failure missing", text(failure=DROP), "format", BAD.format("failure")),
    ("failure of an unknown kind", text(failure={"kind": "boom", "status": None, "message": "x"}), "format",
     BAD.format("failure")),
    ("failure of a kind in an array", text(failure={"kind": ["http"], "status": None, "message": "x"}), "format",
     BAD.format("failure")),
    ("failure with only a kind (status and message are for people)", text(failure={"kind": "timeout"}), None, None),
    ("another app's file", text(app="other"), "app", 'It belongs to "other", not to "annotator".'),
    ("state not JSON", text(state="{nope"), "state", BAD_STATE),
    ("state empty", text(state=""), "state", BAD_STATE),
    ("state NaN", text(state="NaN"), "state", BAD_STATE),
    ("state 256 deep", text(state=nested(256)), None, None),
    ("state 257 deep", text(state=nested(257)), "state", BAD_STATE),
    ("state 10000 deep", text(state=nested(10000)), "state", BAD_STATE),
    ("state with a __proto__ key", text(state='{"__proto__": {"polluted": true}, "spans": []}'), None, None),
    ("context with a __proto__ key", text(context={"__proto__": {"polluted": True}}), None, None),
    ("a UTF-8 byte order mark first", "\ufeff" + text(), None, None),
]
# (name, text, max_bytes, code, message): toFixed(1) rounds 0.25 MB up, as the server must.
TOO_LARGE = [
    ("over a 0.25 MB limit", text(context={"pad": "x" * 262_144}), 262_144, "too_large",
     "This file is larger than the 0.3 MB limit."),
    ("one byte over a 1 KiB limit", text(context={"pad": "x" * (1025 - len(text(context={"pad": ""})))}), 1024,
     "too_large", "This file is larger than the 0.0 MB limit."),
    ("exactly at a 1 KiB limit", text(context={"pad": "x" * (1024 - len(text(context={"pad": ""})))}), 1024,
     None, None),
]


def main() -> None:
    rows = [{"name": n, "text": t, "max_bytes": None, "code": c, "message": m} for n, t, c, m in CASES]
    rows += [{"name": n, "text": t, "max_bytes": b, "code": c, "message": m} for n, t, b, c, m in TOO_LARGE]
    for row in rows:  # what a browser can hold in a file: no raw lone surrogates, only \\u escapes
        assert not re.search(r"[\ud800-\udfff]", row["text"]), row["name"]
    assert len({r["name"] for r in rows}) == len(rows)
    OUT.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{OUT}: {len(rows)} files")


if __name__ == "__main__":
    main()
