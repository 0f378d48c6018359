"""Show the recovery snippet at work in headless Chromium: a 409 "client outdated" submit saves the work to a file."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from recovery import create_app

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run"]


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-recovery.png").resolve()
    work = Path(tempfile.mkdtemp(prefix="tagpin-recovery-demo-"))
    app = create_app({"TAGPIN_RECOVERY_DEMO": "1", "TAGPIN_RECOVERY_DATABASE_URL": f"sqlite:///{work / 'beacons.db'}"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/demo/"
    chromium = shutil.which("chromium")
    if chromium is None:
        print("recovery demo: chromium is not installed (scripts/services.sh installs it)", file=sys.stderr)
        return 1
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
            page = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 720}).new_page()
            page.goto(url)
            page.evaluate("demo.recovery.ready")
            page.evaluate("demo.addSpan('PERSON', 14, 26); demo.addSpan('PLACE', 83, 89)")
            print(f"  {url}: 2 spans labelled; the server now answers 409 'client outdated'")
            page.check("input[name=mode][value='409']")
            with page.expect_download() as info:
                page.click("#submit")
            saved = work / info.value.suggested_filename
            info.value.save_as(saved)
            page.wait_for_function("document.querySelector('#status').textContent.startsWith('Not submitted')")
            doc = json.loads(saved.read_text())
            ok = hashlib.sha256(doc["state"].encode()).hexdigest() == doc["sha256"]
            print(f"  submit failed → downloaded {saved.name} ({saved.stat().st_size} bytes), "
                  f"failure {doc['failure']}, checksum {'verified' if ok else 'WRONG'}")
            page.evaluate("demo.store.load({spans: []})")
            page.set_input_files("#restore", str(saved))
            page.wait_for_selector("#status.ok")
            spans = page.evaluate("demo.store.spans.length")
            print(f"  restored from the file: {spans} spans back on the page")
            page.screenshot(path=str(out))
            print(f"  screenshot: {out}")
            browser.close()
            return 0 if ok and spans == 2 else 1
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
