"""Benchmark recovery.js: gzipped size, and a big state's serialize + download with the longest main-thread task.

Usage: bench_recovery.py [--runs 3] [--spans 500000] [--rev GIT_REV]   (--rev benches that commit's recovery.js)

It prints apart what the page's app costs and what the snippet costs: the app's own JSON.stringify(getState())
is one synchronous task that no snippet can split, and is timed here on its own; the snippet's figure is
submit() start until it hands the file's Blob to the download (URL.createObjectURL), with the longest task
the PerformanceObserver saw from submit() start until 200 ms after submit() settled (journal write included).
The machine may be shared: figures are best of --runs, printed with the load average.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.recovery.conftest import CHROMIUM_ARGS, Served, make_app  # noqa: E402

SERIALIZE_TARGET_MS = 1000
TASK_TARGET_MS = 250

# The page-side probe: the state (~130 bytes of JSON per span: the test's 50 MB state), the app's own
# stringify timed as one task, then a failing submit (409) observed by a long-task observer.
PROBE = """async (spans) => {
  const tasks = [];
  new PerformanceObserver(l => l.getEntries().forEach(e => tasks.push([e.startTime, e.duration])))
    .observe({type: "longtask"});
  demo.store.spans = Array.from({length: spans}, (_, i) => ({start: i, end: i + 1,
      label: "x".repeat(80), text: "\\u00e9"}));
  const pause = () => new Promise(r => setTimeout(r, 300));  // earlier tasks end and are reported apart
  await pause();
  let t = performance.now();
  const json = JSON.stringify(demo.store.serialize());
  const app = performance.now() - t, bytes = new TextEncoder().encode(json).length;
  await pause();
  let handed;
  const create = URL.createObjectURL;
  URL.createObjectURL = b => { handed = performance.now(); return create.call(URL, b); };
  const t0 = performance.now();
  await demo.recovery.submit(() => new Response("{}", {status: 409})).catch(() => null);
  const settled = performance.now() - t0;
  await pause();
  URL.createObjectURL = create;
  const during = tasks.filter(([start]) => start >= t0).map(([, d]) => d);
  return {bytes, app, ms: handed - t0, settled, longest: Math.max(0, ...during)};
}"""


def snippet_dir(tmp: Path, rev: str | None) -> Path:
    """The static folder to serve: the work tree's, or a copy with the recovery.js of commit `rev`."""
    if rev is None:
        return ROOT / "static"
    static = tmp / "static"
    shutil.copytree(ROOT / "static" / "demo", static / "demo")
    js = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:static/recovery.js"],
                        check=True, capture_output=True).stdout
    (static / "recovery.js").write_bytes(js)
    return static


def run(served: Served, browser: Any, spans: int, tmp: Path) -> dict[str, float]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{served.url}/demo/")
    page.evaluate("demo.recovery.ready")
    with page.expect_download(timeout=120_000) as info:
        probe: dict[str, float] = page.evaluate(PROBE, spans)
    target = tmp / "state.json"
    info.value.save_as(target)
    json.loads(target.read_bytes())  # the file is whole
    probe["file"] = target.stat().st_size
    context.close()
    return probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spans", type=int, default=500_000)
    parser.add_argument("--rev", help="bench the recovery.js of this git revision instead of the work tree's")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("bench_recovery: no chromium on PATH (apt-get install chromium)")
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        static = snippet_dir(tmp, args.rev)
        snippet = (static / "recovery.js").read_bytes()
        print(f"recovery.js{' at ' + args.rev if args.rev else ''}: {len(snippet)} bytes, "
              f"{len(gzip.compress(snippet, 9))} bytes gzipped (target <= 5120)")
        served = Served(make_app(tmp, TAGPIN_RECOVERY_DEMO="1", TAGPIN_RECOVERY_STATIC_DIR=str(static)))
        results = []
        started = time.perf_counter()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            for _ in range(args.runs):
                results.append(run(served, browser, args.spans, tmp))
            browser.close()
        served.close()
    for r in results:
        print(f"  state {r['bytes'] / 1e6:.1f} MB of JSON: app's JSON.stringify {r['app']:.0f} ms (one task) | "
              f"snippet: serialize+download {r['ms']:.0f} ms, submit settled {r['settled']:.0f} ms, "
              f"longest task {r['longest']:.0f} ms | file {r['file'] / 1e6:.1f} MB")
    best = {key: min(r[key] for r in results) for key in ("app", "ms", "longest")}
    print(f"best of {args.runs}: app's JSON.stringify {best['app']:.0f} ms"
          f"{' (alone over the ' + str(TASK_TARGET_MS) + ' ms task target)' if best['app'] > TASK_TARGET_MS else ''}; "
          f"snippet serialize+download {best['ms']:.0f} ms (target <= {SERIALIZE_TARGET_MS}), "
          f"longest main-thread task {best['longest']:.0f} ms (target <= {TASK_TARGET_MS})")
    print(f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({time.perf_counter() - started:.0f} s, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
