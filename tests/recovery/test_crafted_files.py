"""One table of crafted recovery files (crafted_files.json), refused alike by the server and by restore()."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from recovery import fileformat
from tests.recovery.conftest import make_app

ROWS: list[dict[str, Any]] = json.loads(Path(__file__).with_name("crafted_files.json").read_text())
IDS = [r["name"] for r in ROWS]


def expected(row: dict[str, Any]) -> list[Any]:
    return [row["code"], row["message"]]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_fileformat_says_what_the_table_says(row: dict[str, Any]) -> None:
    try:
        fileformat.parse(row["text"], app="annotator", max_bytes=row["max_bytes"])
        got = [None, None]
    except fileformat.InvalidRecoveryFile as exc:
        got = [exc.code, str(exc)]
    assert got == expected(row)


def test_echo_answers_as_the_table_says(tmp_path: Path) -> None:
    """The echo endpoint knows no app, so another app's file comes back; everything else as the table."""
    clients = {}
    for row in ROWS:
        limit = row["max_bytes"] or 100 * 1024 * 1024
        if limit not in clients:
            (tmp_path / str(limit)).mkdir()
            clients[limit] = make_app(tmp_path / str(limit), TAGPIN_RECOVERY_MAX_BYTES=str(limit)).test_client()
        resp = clients[limit].post("/recovery/echo", data={"file": row["text"]})
        if row["code"] in (None, "app"):
            assert (resp.status_code, resp.data) == (200, row["text"].encode()), row["name"]
        else:
            error = resp.get_json()["error"]
            status = 413 if row["code"] == "too_large" else 400
            assert [resp.status_code, error["code"], error["message"]] == [status, *expected(row)], row["name"]


def test_restore_in_chromium_says_what_the_table_says(page: Any) -> None:
    got = page.evaluate("""async rows => {
        const out = [];
        for (const row of rows) {
            const r = TagpinRecovery.init({app: "annotator", getState: () => ({}), banner: false,
                                           ...(row.max_bytes ? {maxBytes: row.max_bytes} : {})});
            out.push(await r.restore(new Blob([row.text])).then(
                state => [null, null, !state || typeof state != "object" || Array.isArray(state)
                                      || Object.getPrototypeOf(state) === Object.prototype],
                e => [e.code ?? null, e.name + ": " + e.message, true]));
        }
        return [out, ({}).polluted === undefined];
    }""", ROWS)
    rows, unpolluted = got
    want = [[r["code"], r["message"] and "RestoreError: " + r["message"], True] for r in ROWS]
    mismatched = [(r["name"], g, w) for r, g, w in zip(ROWS, rows, want, strict=True) if g != w]
    assert not mismatched, "\n".join(map(str, mismatched))
    assert unpolluted, "a __proto__ key in a file set Object.prototype"


def test_a_state_the_page_cannot_load_is_refused_in_words(page: Any, tmp_path: Path) -> None:
    """A valid file whose work the app's onRestore throws on (the demo reads null.spans): no raw TypeError."""
    doc = json.loads(next(r["text"] for r in ROWS if r["name"] == "a file the snippet would write"))
    doc.update(state="null", sha256=hashlib.sha256(b"null").hexdigest())
    text = json.dumps(doc)
    fileformat.parse(text)  # a well-formed file: the refusal below is the page's, not the format's
    (tmp_path / "null.json").write_text(text)
    page.set_input_files("#restore", str(tmp_path / "null.json"))
    page.wait_for_function("document.querySelector('#status').textContent !== ''")
    assert page.inner_text("#status") == "This page could not load the work in this file."
    why = page.evaluate("t => demo.recovery.restore(new Blob([t])).catch(e => [e.code, e.cause.name])", text)
    assert why == ["rejected", "TypeError"]
