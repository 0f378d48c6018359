"""Recovery test plumbing: the Flask app on a loopback port in a thread; Chromium via Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from recovery import create_app

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]


class Served:
    """An app served on 127.0.0.1:<free port> by werkzeug's threaded server."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


def make_app(tmp_path: Path, **config: Any) -> Flask:
    base = {"TESTING": True, "TAGPIN_RECOVERY_DATABASE_URL": f"sqlite:///{tmp_path / 'beacons.db'}"}
    return create_app({**base, **config})


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, TAGPIN_RECOVERY_DEMO="1")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(make_app(tmp_path, TAGPIN_RECOVERY_DEMO="1"))
    yield s
    s.close()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh context (own IndexedDB, own downloads) with the demo page loaded and the journal ready."""
    context = browser.new_context(accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(f"{served.url}/demo/?timeout=1000")
    pg.evaluate("demo.recovery.ready")
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
