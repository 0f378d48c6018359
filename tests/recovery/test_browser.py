"""recovery.js in the system's headless Chromium via Playwright: downloads, banner, restore, journal."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.recovery.conftest import Served

STATE = "JSON.stringify(demo.recovery && demo.store.serialize())"
SPANS = "demo.addSpan('PERSON', 14, 26); demo.addSpan('PLACE', 83, 89)"


def set_mode(served: Served, mode: str) -> None:
    served.app.extensions["tagpin_recovery"].demo_mode = mode


def verified(path: Path) -> dict[str, Any]:
    """The downloaded file, its checksum recomputed here rather than trusted from the page."""
    doc: dict[str, Any] = json.loads(path.read_bytes())
    assert doc["format"] == "tagpin-recovery" and doc["version"] == 1 and doc["app"] == "annotator"
    assert hashlib.sha256(doc["state"].encode("utf-8")).hexdigest() == doc["sha256"]
    return doc


def fail_once(page: Any, served: Served, how: str) -> list[Any]:
    downloads: list[Any] = []
    page.on("download", lambda d: downloads.append(d))
    if how == "network":
        page.route("**/demo/api/submit", lambda route: route.abort())
    else:
        set_mode(served, {"409": "409", "500": "500", "timeout": "slow"}[how])
    with page.expect_download():       # the first download has arrived before anyone reads downloads[0]
        page.click("#submit")
    page.wait_for_selector("#status.bad")
    return downloads


@pytest.mark.parametrize(("how", "kind", "status"), [
    ("409", "http", 409), ("500", "http", 500), ("network", "network", None), ("timeout", "timeout", None),
])
def test_a_failed_submit_downloads_the_work_once_and_it_round_trips(
        page: Any, served: Served, tmp_path: Path, how: str, kind: str, status: int | None) -> None:
    page.evaluate(SPANS)
    expected = page.evaluate(STATE)
    downloads = fail_once(page, served, how)
    page.click("#submit")  # a retry within the same failure episode
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Not submitted')")
    page.wait_for_timeout(300)
    assert len(downloads) == 1, "one automatic download per failure episode, not one per retry"
    target = tmp_path / downloads[0].suggested_filename
    downloads[0].save_as(target)
    assert target.name.startswith("tagpin-recovery-annotator-") and target.suffix == ".json"
    doc = verified(target)
    assert doc["state"] == expected and doc["failure"]["kind"] == kind and doc["failure"]["status"] == status
    assert doc["context"] == {"user": "demo-user", "task": "t42"} and doc["app_version"] == "1.10.0"
    page.evaluate("demo.store.load({spans: []})")
    page.set_input_files("#restore", str(target))
    page.wait_for_selector("#status.ok")
    assert page.evaluate(STATE) == expected


def test_without_a_user_gesture_the_banner_offers_it(page: Any, served: Served, tmp_path: Path) -> None:
    page.evaluate(SPANS)
    set_mode(served, "409")
    # No click: the submit starts from script, as after a timer or a websocket message.
    error = page.evaluate("demo.recovery.submit(() => fetch('/demo/api/submit', {method: 'POST'}))"
                          ".then(() => null, e => e.name + ': ' + e.message)")
    assert error == "SubmitFailed: submit failed: HTTP 409"
    banner = page.locator("#tagpin-recovery")
    assert banner.is_visible() and "saved in a file" in banner.inner_text()
    with page.expect_download() as info:
        banner.get_by_role("button", name="Download my work").click()
    info.value.save_as(tmp_path / "work.json")
    assert verified(tmp_path / "work.json")["state"] == page.evaluate(STATE)


def test_success_hides_the_banner_and_clears_the_journal(page: Any, served: Served) -> None:
    page.evaluate(SPANS)
    fail_once(page, served, "409")
    assert page.evaluate("demo.recovery.saved().then(x => x && x.state)") == page.evaluate(STATE)
    set_mode(served, "ok")
    page.click("#submit")
    page.wait_for_selector("#status.ok")
    assert not page.locator("#tagpin-recovery").is_visible()
    assert page.evaluate("demo.recovery.saved()") is None


def test_the_journal_survives_a_reload_and_a_failure(page: Any, served: Served) -> None:
    page.evaluate(SPANS)
    expected = page.evaluate(STATE)
    page.wait_for_timeout(800)  # past the journal's 500 ms debounce: no explicit flush
    page.reload()
    page.evaluate("demo.recovery.ready")
    assert page.evaluate("demo.store.spans.length") == 0
    banner = page.locator("#tagpin-recovery")
    assert "was found in this browser" in banner.inner_text()
    banner.get_by_role("button", name="Restore saved work").click()
    page.wait_for_function("demo.store.spans.length === 2")
    assert page.evaluate(STATE) == expected
    fail_once(page, served, "500")
    page.reload()
    page.evaluate("demo.recovery.ready")
    assert page.evaluate("demo.recovery.saved().then(x => x.state)") == expected


TAMPERED = [
    ("state", lambda d: d.update(state=d["state"].replace("PERSON", "PERS0N")), "checksum mismatch"),
    ("app", lambda d: d.update(app="other"), 'belongs to "other"'),
    ("version", lambda d: d.update(version=2), "newer than this page"),
    ("format", lambda d: d.update(format="something"), "not a tagpin recovery file"),
    ("no checksum", lambda d: d.pop("sha256"), "no state or checksum"),
]


@pytest.mark.parametrize(("name", "tamper", "message"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_restore_refuses_a_tampered_file_with_a_specific_message(
        page: Any, served: Served, tmp_path: Path, name: str, tamper: Any, message: str) -> None:
    page.evaluate(SPANS)
    downloads = fail_once(page, served, "409")
    downloads[0].save_as(tmp_path / "good.json")
    doc = json.loads((tmp_path / "good.json").read_text())
    tamper(doc)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    page.evaluate("demo.store.load({spans: []})")
    page.set_input_files("#restore", str(tmp_path / "bad.json"))
    page.wait_for_function("document.querySelector('#status').textContent !== ''"
                           " && !document.querySelector('#status').textContent.startsWith('Not submitted')")
    assert message in page.inner_text("#status")
    assert page.evaluate("demo.store.spans.length") == 0


def test_restore_refuses_junk_and_oversized_files(page: Any) -> None:
    out = page.evaluate("""async () => {
        const r = TagpinRecovery.init({app: "annotator", getState: () => ({}),
                                       banner: false, maxBytes: 2048});
        const why = f => r.restore(f).then(() => "restored", e => e.code);
        return [await why(new Blob(["{cut sh"])), await why(new Blob(["x".repeat(4096)]))];
    }""")
    assert out == ["not_json", "too_large"]


def test_storage_unavailable_falls_back_to_memory_and_says_so(browser: Any, served: Served) -> None:
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(window, 'indexedDB', {get: () => undefined})")
    page = context.new_page()
    page.goto(f"{served.url}/demo/")
    page.evaluate("demo.recovery.ready")
    assert page.evaluate("demo.recovery.storage") == "memory"
    assert "kept in memory only" in page.inner_text("#tagpin-recovery")
    page.evaluate(SPANS + "; demo.recovery.flush()")
    assert page.evaluate("demo.recovery.saved().then(x => x.state)") == page.evaluate(STATE)
    context.close()


def test_leave_page_warning_only_while_work_is_unsaved(page: Any, served: Served) -> None:
    leave = ("(() => { const e = new Event('beforeunload', {cancelable: true});"
             " dispatchEvent(e); return e.defaultPrevented; })()")
    assert page.evaluate(leave) is False
    page.evaluate(SPANS)
    assert page.evaluate(leave) is True
    page.click("#submit")
    page.wait_for_selector("#status.ok")
    assert page.evaluate(leave) is False


def test_fetch_wrapper_saves_work_for_apps_that_cannot_call_submit(page: Any, served: Served) -> None:
    page.evaluate(SPANS)
    set_mode(served, "409")
    with page.expect_download() as info:
        status = page.evaluate("""async () => {
            const unwrap = demo.recovery.wrapFetch();
            const mode = await (await fetch('/demo/api/mode')).json();  // GET passes through untouched
            try { await fetch('/demo/api/submit', {method: 'POST', body: '{}'}); return 'no error'; }
            catch (e) { return mode.mode + ' ' + e.failure.status; } finally { unwrap(); }
        }""")
    assert status == "409 409"
    assert info.value.suggested_filename.startswith("tagpin-recovery-annotator-")


def test_pure_js_sha256_matches_hashlib_where_crypto_subtle_is_missing(browser: Any, served: Served) -> None:
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined})")
    page = context.new_page()
    page.goto(f"{served.url}/demo/")
    # FIPS 180-4 boundaries: 55/56/64 bytes straddle the padding block; plus multi-byte UTF-8.
    samples = ["", "abc", "a" * 55, "a" * 56, "a" * 64, "h\u00e9llo \u2713 \U0001d11e", "x" * 200_000]
    got = page.evaluate("s => Promise.all(s.map(TagpinRecovery.sha256))", samples)
    assert got == [hashlib.sha256(s.encode()).hexdigest() for s in samples]
    context.close()


def test_beacons_on_load_and_on_a_409(page: Any, served: Served) -> None:
    fail_once(page, served, "409")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = served.app.extensions["tagpin_recovery"].beacons.recent("demo")
        if len(rows) >= 2:
            break
        time.sleep(0.1)
    assert sorted((r.event, r.status, r.app_version) for r in rows) == [
        ("load", None, "1.10.0"), ("submit_failed", 409, "1.10.0")]


def test_a_50_mb_state_round_trips(page: Any, served: Served, tmp_path: Path) -> None:
    size = page.evaluate("""() => {
        const label = "x".repeat(80);  // ~100 bytes of JSON per span
        demo.store.spans = Array.from({length: 500000},
                                      (_, i) => ({start: i, end: i + 1, label, text: "\u00e9"}));
        return JSON.stringify(demo.store.serialize()).length;
    }""")
    assert size >= 50_000_000
    set_mode(served, "409")
    with page.expect_download(timeout=60_000) as info:
        page.click("#submit")
    info.value.save_as(tmp_path / "big.json")
    doc = verified(tmp_path / "big.json")
    assert len(doc["state"]) == size
    assert doc["state"] == page.evaluate(STATE)


@pytest.mark.parametrize("allowed", [True, False])
def test_cross_origin_script_with_integrity_loads_only_for_allowed_origins(
        browser: Any, tmp_path: Path, allowed: bool) -> None:
    from werkzeug.wrappers import Request, Response

    host_html: list[str] = []

    @Request.application
    def host(request: Request) -> Response:
        return Response(host_html[0], mimetype="text/html")

    from tests.recovery.conftest import make_app

    page_server = Served(host)  # type: ignore[arg-type]
    origins = page_server.url if allowed else "https://elsewhere.example.com"
    snippet_server = Served(make_app(tmp_path, TAGPIN_RECOVERY_ALLOWED_ORIGINS=origins))
    try:
        manifest = snippet_server.app.test_client().get("/recovery/manifest.json").get_json()
        src, integrity = snippet_server.url + manifest["url"], manifest["integrity"]
        host_html.append(f'<script src="{src}" integrity="{integrity}" crossorigin="anonymous"></script>')
        context = browser.new_context()
        page = context.new_page()
        page.goto(page_server.url + "/")
        assert page.evaluate("typeof window.TagpinRecovery") == ("object" if allowed else "undefined")
        context.close()
    finally:
        page_server.close()
        snippet_server.close()
