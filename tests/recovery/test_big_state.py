"""recovery.js with big states in headless Chromium: the sliced JSON.stringify is exact, untorn, and yields."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Shapes the slicer treats differently: small containers walked key by key, big arrays and dictionaries in
# batches, a few huge entries walked into, and what JSON.stringify drops, nulls or escapes (ECMA-262 §25.5.2).
SHAPES = """{
  edge: {a: [1, 2, {b: "x\\"y\\\\z\\n\\u0001"}], c: undefined, d: "\\u00e9\\u2028\\ud83d\\ude00\\ud800", f: () => 1,
         g: [undefined, () => 2, , 3], "__proto__": 5, 2: "two", 1: "one", t: new Date(0), m: new Map([[1, 2]]),
         s: new String("ab"), n: [NaN, -0, Infinity], o: {toJSON: () => "own toJSON"}, z: Object.create(null)},
  scalar: "just a string",
  deep: [[[[[[[[[[[[["bottom"]]]]]]]]]]]]],
  spans: {text_id: "t", spans: Array.from({length: 200000}, (_, i) => ({start: i, end: i + 1, text: "\\u00e9" + i}))},
  dict: {entities: {byId: Object.fromEntries(
    Array.from({length: 50000}, (_, i) => ["k" + i, i % 7 ? {v: i} : undefined]))}},
  huge: [Array.from({length: 100000}, (_, i) => "x".repeat(i % 50)),
         Array.from({length: 100000}, () => ({q: '"\\\\'}))],
  tree: (function tree(d) { return d ? {kids: [tree(d - 1), tree(d - 1), tree(d - 1), tree(d - 1)]} : {leaf: d}; })(8),
}"""


def download(page: Any, expr: str) -> list[Any]:
    """Each shape through init(...).download(): the file's state, JSON.stringify's text and the file's sha256."""
    out: list[Any] = page.evaluate(f"""async () => {{
        const shapes = {expr}, out = [];
        for (const [name, state] of Object.entries(shapes)) {{
            const r = TagpinRecovery.init({{app: "t", getState: () => state, banner: false, autoDownload: false}});
            let blob;
            const create = URL.createObjectURL;
            URL.createObjectURL = b => {{ blob = b; return "blob:none"; }};
            try {{ await r.download(); }} finally {{ URL.createObjectURL = create; }}
            out.push([name, await blob.text(), JSON.stringify(state)]);
        }}
        return out;
    }}""")
    return out


def test_the_sliced_stringify_gives_exactly_json_stringify_text(page: Any) -> None:
    for name, text, expected in download(page, SHAPES):
        doc = json.loads(text)
        assert doc["state"] == expected, name
        # The checksum covers the UTF-8 of the state string; a lone surrogate is escaped by JSON.stringify.
        assert doc["sha256"] == hashlib.sha256(expected.encode("utf-8")).hexdigest(), name


def test_an_edit_during_a_big_save_gives_a_consistent_file_not_a_torn_one(page: Any) -> None:
    # The app removes the first span mid-save and reports it (as an input handler run between two slices
    # would; a getter makes the timing certain). The splice shifts every later index, so slices taken before
    # and after it would repeat a span: the file must be the state as it is after the edit, whole.
    state, expected = page.evaluate("""async () => {
        const spans = Array.from({length: 500000}, (_, i) => ({i, label: "x".repeat(60)}));
        const state = {spans}, r = TagpinRecovery.init({app: "t", getState: () => state, banner: false,
                                                        autoDownload: false});
        let edited = false;
        Object.defineProperty(spans[300000], "i", {enumerable: true, get() {
            if (!edited) { edited = true; spans.splice(0, 1); r.changed(); }
            return 300000;
        }});
        let blob;
        const create = URL.createObjectURL;
        URL.createObjectURL = b => { blob = b; return "blob:none"; };
        try { await r.download(); } finally { URL.createObjectURL = create; }
        return [JSON.parse(await blob.text()).state, JSON.stringify(state)];
    }""")
    assert state == expected


def test_a_failing_submit_of_a_50_mb_state_keeps_the_main_thread_answering(page: Any) -> None:
    # Relative, so the test holds on a slow or shared machine: a save done as one JSON.stringify is one task of
    # most of the save's time (0.7 of it measured before the slicing); the sliced save yields every ~40 ms.
    got = page.evaluate("""async () => {
        demo.store.spans = Array.from({length: 500000}, (_, i) => ({start: i, end: i + 1, label: "x".repeat(80),
                                                                  text: "\\u00e9"}));
        await new Promise(r => setTimeout(r, 300));
        const tasks = [];
        const seen = new PerformanceObserver(l => l.getEntries().forEach(e => tasks.push(e)));
        seen.observe({type: "longtask"});
        // A known 120 ms task first: proves the observer records long tasks here, so "none seen" means none.
        const p0 = performance.now();
        while (performance.now() - p0 < 120) {}
        await new Promise(r => setTimeout(r, 100));
        const t0 = performance.now();
        await demo.recovery.submit(() => new Response("{}", {status: 409})).catch(e => e.name);
        const took = performance.now() - t0;
        await new Promise(r => setTimeout(r, 300));
        seen.disconnect();
        return {took, longest: Math.max(0, ...tasks.filter(e => e.startTime >= t0).map(e => e.duration)),
                probe: Math.max(0, ...tasks.filter(e => e.startTime < t0).map(e => e.duration))};
    }""")
    assert got["probe"] >= 100, f"the long-task observer saw no long task at all: {got}"
    assert got["longest"] < got["took"] / 3, got
