"""The recovery service through Flask's test client: headers, caching, limits, errors, echo and beacons."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from recovery.beacons import StoreUnavailable
from recovery.settings import SettingsError
from tests.recovery.conftest import make_app

SNIPPET = Path(__file__).resolve().parents[2] / "static" / "recovery.js"


def recovery_file(work: Any = None, **overrides: Any) -> str:
    text = json.dumps(work if work is not None else {"spans": [{"start": 0, "end": 3, "label": "ORG"}]})
    doc = {"format": "tagpin-recovery", "version": 1, "id": "0123456789abcdef0123456789abcdef",
           "created_at": "2024-05-01T10:00:00.000Z", "app": "annotator", "app_version": "1.10.0",
           "context": {}, "failure": {"kind": "http", "status": 409, "message": "HTTP 409"},
           "state": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    doc.update(overrides)
    return json.dumps(doc)


def test_snippet_is_small_enough() -> None:
    # The budget: at most 5 KB gzipped (5 KiB, at gzip's strongest level as servers precompress).
    assert len(gzip.compress(SNIPPET.read_bytes(), 9)) <= 5 * 1024


def test_snippet_served_with_content_hash_etag_equal_across_instances(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other = make_app(tmp_path / "other")
    a = app.test_client().get("/recovery.js")
    b = other.test_client().get("/recovery.js")
    assert a.status_code == 200 and a.data == SNIPPET.read_bytes()
    assert a.mimetype == "text/javascript"
    assert a.headers["ETag"] == b.headers["ETag"] == f'"{hashlib.sha256(a.data).hexdigest()[:16]}"'
    assert a.headers["Cache-Control"] == "public, max-age=300"
    assert a.headers["X-Content-Type-Options"] == "nosniff"


def test_if_none_match_gives_304_without_body(app: Flask) -> None:
    client = app.test_client()
    etag = client.get("/recovery.js").headers["ETag"]
    again = client.get("/recovery.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/recovery.js", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_manifest_names_an_immutable_url_and_the_sri_hash(app: Flask) -> None:
    client = app.test_client()
    manifest = client.get("/recovery/manifest.json")
    assert manifest.headers["Cache-Control"] == "no-cache"
    body = manifest.get_json()
    data = SNIPPET.read_bytes()
    assert body["integrity"] == "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert body["file_format_version"] == 1 and body["bytes"] == len(data)
    versioned = client.get(body["url"])
    assert versioned.status_code == 200 and versioned.data == data
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    wrong = client.get("/recovery/0000000000000000/recovery.js")
    assert wrong.status_code == 404 and wrong.is_json
    assert body["version"] in wrong.get_json()["error"]["message"]


@pytest.mark.parametrize(("origin", "allowed"), [
    ("https://app.example.com", True),
    ("https://evil.example.com", False),
    ("https://app.example.com.evil.test", False),  # exact match, never a prefix or suffix match
])
def test_cors_only_for_configured_origins(tmp_path: Path, origin: str, allowed: bool) -> None:
    app = make_app(tmp_path, TAGPIN_RECOVERY_ALLOWED_ORIGINS="https://app.example.com, http://127.0.0.1:8080")
    resp = app.test_client().get("/recovery.js", headers={"Origin": origin})
    assert resp.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)
    assert "Origin" in resp.headers["Vary"]


def test_preflight_for_json_beacons_from_an_allowed_origin(tmp_path: Path) -> None:
    app = make_app(tmp_path, TAGPIN_RECOVERY_ALLOWED_ORIGINS="https://app.example.com")
    resp = app.test_client().options("/recovery/beacon", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(("name", "value", "words"), [
    ("TAGPIN_RECOVERY_MAX_BYTES", "lots", "whole number"),
    ("TAGPIN_RECOVERY_MAX_BYTES", "10", "at least 1024"),
    ("TAGPIN_RECOVERY_ALLOWED_ORIGINS", "*", "not an origin"),
    ("TAGPIN_RECOVERY_ALLOWED_ORIGINS", "https://app.example.com/path", "not an origin"),
    ("TAGPIN_RECOVERY_DEMO", "maybe", "1 or 0"),
    ("TAGPIN_RECOVERY_STATIC_DIR", "/nonexistent", "no recovery.js"),
])
def test_bad_settings_name_the_variable(tmp_path: Path, name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError, match=name) as info:
        make_app(tmp_path, **{name: value})
    assert words in str(info.value)


def test_errors_are_json_never_html(app: Flask) -> None:
    client = app.test_client()
    for resp in (client.get("/nope"), client.put("/recovery/echo"), client.post("/recovery/echo")):
        assert resp.is_json and resp.status_code in (400, 404, 405)
        assert resp.get_json()["error"]["status"] == resp.status_code
    assert client.put("/recovery/echo").headers["Allow"]


def test_echo_returns_the_exact_bytes_as_a_safe_attachment(app: Flask) -> None:
    text = recovery_file(app="my app/../<x>")
    resp = app.test_client().post("/recovery/echo", data={"file": text})
    assert resp.status_code == 200
    assert resp.data == text.encode()
    assert resp.mimetype == "application/json" and resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    name = "tagpin-recovery-my-app-x-2024-05-01T10-00-00-000Z-01234567.json"
    assert disposition == f'attachment; filename="{name}"'
    assert "sandbox" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("text", "code"), [
    ("{not json", "not_json"),
    (json.dumps({"format": "other"}), "format"),
    (recovery_file(version=2), "version"),
    (recovery_file(sha256="0" * 64), "checksum"),
    (recovery_file(state='{"spans": []} '), "checksum"),  # one byte added after saving
    (recovery_file(id=""), "format"),
])
def test_echo_refuses_what_restore_refuses(app: Flask, text: str, code: str) -> None:
    resp = app.test_client().post("/recovery/echo", data={"file": text})
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert resp.get_json()["error"]["code"] == code


def test_echo_over_the_size_cap_is_413_json(tmp_path: Path) -> None:
    app = make_app(tmp_path, TAGPIN_RECOVERY_MAX_BYTES="2048")
    client = app.test_client()
    decoded_too_big = client.post("/recovery/echo", data={"file": recovery_file("x" * 3000)})
    assert decoded_too_big.status_code == 413 and decoded_too_big.get_json()["error"]["status"] == 413
    body_too_big = client.post("/recovery/echo", data={"file": "%" * 20_000})
    assert body_too_big.status_code == 413 and body_too_big.is_json


def beacon(**overrides: Any) -> dict[str, Any]:
    return {"tenant": "acme", "app": "annotator", "app_version": "1.10.0", "event": "load", "status": None,
            **overrides}


def test_beacons_are_stored_from_json_and_from_send_beacon_text(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/recovery/beacon", json=beacon()).status_code == 201
    text = json.dumps(beacon(event="submit_failed", status=409))
    sent = client.post("/recovery/beacon", data=text, content_type="text/plain;charset=UTF-8",
                       headers={"User-Agent": "Chrome/1"})
    assert sent.status_code == 201
    rows = app.extensions["tagpin_recovery"].beacons.recent("acme")
    assert [(r.event, r.status) for r in rows] == [("submit_failed", 409), ("load", None)]
    assert rows[0].user_agent == "Chrome/1"


def test_an_unopenable_beacon_database_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="TAGPIN_RECOVERY_DATABASE_URL"):
        make_app(tmp_path, TAGPIN_RECOVERY_DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/x.db")


@pytest.mark.parametrize("bad", [
    beacon(tenant=""), beacon(tenant="a b"), beacon(app_version="1.0;drop"), beacon(event="click"),
    beacon(event="submit_failed", status=None), beacon(event="submit_failed", status=True),
    beacon(event="submit_failed", status=700), beacon(status=200), ["not", "an", "object"],
])
def test_invalid_beacons_are_400(app: Flask, bad: Any) -> None:
    resp = app.test_client().post("/recovery/beacon", json=bad)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_beacon"


def test_beacon_limits(tmp_path: Path) -> None:
    app = make_app(tmp_path, TAGPIN_RECOVERY_BEACONS_PER_MINUTE="3")
    client = app.test_client()
    assert client.post("/recovery/beacon", data="x" * 5000, content_type="text/plain").status_code == 413
    assert client.post("/recovery/beacon", data="<a>", content_type="text/html").status_code == 415
    # Refused beacons count too: a client flooding junk is still flooding.
    assert client.post("/recovery/beacon", json=beacon()).status_code == 201
    limited = client.post("/recovery/beacon", json=beacon())
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    other = client.post("/recovery/beacon", json=beacon(), environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 201


def test_demo_is_off_unless_enabled(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    assert client.get("/demo/").status_code == 404
    assert client.post("/demo/api/submit", json={}).status_code == 404


def test_demo_submit_follows_the_switch(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/demo/api/submit", json={"spans": [{}]}).get_json() == {"ok": True, "spans": 1}
    assert client.post("/demo/api/mode", json={"mode": "409"}).get_json()["mode"] == "409"
    outdated = client.post("/demo/api/submit", json={}, headers={"X-App-Version": "1.10.0"})
    assert outdated.status_code == 409 and "client outdated" in outdated.get_json()["error"]["message"]
    assert client.post("/demo/api/mode", json={"mode": "teapot"}).status_code == 400
