"""Beacons honour TAGPIN_RECOVERY_ALLOWED_ORIGINS exactly as the CORS headers do: refused 403, never recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.recovery.conftest import Served, make_app

ORIGINS = "https://app.example.com, http://127.0.0.1:8080"
BEACON = {"tenant": "acme", "app": "annotator", "app_version": "1.10.0", "event": "load", "status": None}


@pytest.mark.parametrize(("origin", "accepted"), [
    ("https://app.example.com", True),
    ("http://127.0.0.1:8080", True),
    ("https://evil.example.com", False),
    ("https://app.example.com.evil.test", False),   # exact, never a prefix match
    ("https://app.example.com/", False),            # browsers never send a path; neither does CORS match one
    ("http://app.example.com", False),              # another scheme is another origin
    ("null", False),                                # sandboxed frames and file:// pages
    (None, False),                                  # no Origin at all, when origins are configured
])
def test_a_beacon_is_recorded_exactly_when_cors_would_answer(tmp_path: Path, origin: str | None,
                                                             accepted: bool) -> None:
    app = make_app(tmp_path, TAGPIN_RECOVERY_ALLOWED_ORIGINS=ORIGINS)
    client = app.test_client()
    headers = {"Origin": origin} if origin else {}
    cors = client.get("/recovery.js", headers=headers).headers.get("Access-Control-Allow-Origin")
    resp = client.post("/recovery/beacon", json=BEACON, headers=headers)
    rows = app.extensions["tagpin_recovery"].beacons.recent("acme")
    assert (cors is not None) is accepted
    if accepted:
        assert resp.status_code == 201 and len(rows) == 1
    else:
        assert resp.status_code == 403 and rows == []
        assert resp.get_json()["error"]["code"] == "origin_refused"
        assert "TAGPIN_RECOVERY_ALLOWED_ORIGINS" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("origin", ["https://anywhere.example.com", None])
def test_without_configured_origins_any_beacon_is_recorded(tmp_path: Path, origin: str | None) -> None:
    app = make_app(tmp_path)
    resp = app.test_client().post("/recovery/beacon", json=BEACON, headers={"Origin": origin} if origin else {})
    assert resp.status_code == 201
    assert len(app.extensions["tagpin_recovery"].beacons.recent("acme")) == 1


@pytest.mark.parametrize("allowed", [True, False])
def test_send_beacon_from_another_origin_in_chromium(browser: Any, tmp_path: Path, allowed: bool) -> None:
    """The Origin Chromium's sendBeacon really sends, from a page on another port, against the setting."""
    html: list[str] = []

    @Request.application
    def host(request: Request) -> Response:
        return Response(html[0], mimetype="text/html")

    page_server = Served(host)  # type: ignore[arg-type]
    origins = page_server.url if allowed else "https://elsewhere.example.com"
    service = Served(make_app(tmp_path, TAGPIN_RECOVERY_ALLOWED_ORIGINS=origins))
    init = {"app": "annotator", "appVersion": "1.10.0", "tenant": "acme", "banner": False,
            "beaconUrl": service.url + "/recovery/beacon"}
    html.append(f'<script src="{service.url}/recovery.js"></script>'
                f"<script>TagpinRecovery.init({{...{json.dumps(init)}, getState: () => ({{}})}})</script>")
    context = browser.new_context()
    try:
        page = context.new_page()
        with page.expect_response(lambda r: r.url.endswith("/recovery/beacon")) as answer:
            page.goto(page_server.url + "/")
        assert answer.value.status == (201 if allowed else 403)
        rows = service.app.extensions["tagpin_recovery"].beacons.recent("acme")
        assert [r.event for r in rows] == (["load"] if allowed else [])
    finally:
        context.close()
        page_server.close()
        service.close()
