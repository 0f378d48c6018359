"""Registry auth and rate limits against a loopback fake: Bearer tokens, Basic, config.json, helpers, 429."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bot.adapters.registry import RegistryClient
from bot.adapters.registry_auth import load_credentials
from bot.domain.references import parse_reference
from bot.errors import RateLimited, RegistryAuthError
from tests.support.fake_registry import FakeRegistry, Reply, Seen, json_reply

OK = json_reply({"name": "acme/app", "tags": ["1.0.0"]})
BASIC = "Basic " + base64.b64encode(b"alice:s3cret").decode()


def bearer(token_body: dict[str, object], *, want_basic: str | None = None) -> Callable[[Seen], Reply]:
    """Distribution token spec (docs/spec/auth/token.md): 401 + challenge, then GET realm?service&scope."""

    def handle(seen: Seen) -> Reply:
        if seen.path == "/token":
            if want_basic is not None and seen.headers.get("Authorization") != want_basic:
                return json_reply({"details": "incorrect username or password"}, 401)
            return json_reply(token_body)
        if seen.headers.get("Authorization") == f"Bearer {token_body.get('token') or token_body['access_token']}":
            return OK
        realm = f"http://{seen.headers['Host']}/token"
        return json_reply({"errors": [{"code": "UNAUTHORIZED"}]}, 401, {
            "WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:acme/app:pull"'})

    return handle


def config(tmp_path: Path, auths: dict[str, object], **extra: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": auths, **extra}))
    return path


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_bearer_token_is_fetched_once_and_reused(field: str) -> None:
    with FakeRegistry(bearer({field: "tok-1", "expires_in": 300})) as fake:
        client = RegistryClient(cache_ttl=0)
        image = parse_reference(f"{fake.host}/acme/app")
        assert client.tags(image) == ("1.0.0",)
        assert client.tags(image) == ("1.0.0",)
        # a TLS probe (loopback may serve https), 401, retry, then straight in with the token
        assert client.stats == {"probe": 1, "tags_page": 3, "token": 1}
        token_request = next(s for s in fake.seen if s.path == "/token")
        assert token_request.query == {"service": ["fake"], "scope": ["repository:acme/app:pull"]}


@pytest.mark.parametrize(("expires_in", "still_valid_at", "expired_at"), [(300, 250.0, 300.0), (None, 30.0, 60.0)])
def test_token_expiry_honours_expires_in_default_60(expires_in: int | None, still_valid_at: float,
                                                     expired_at: float) -> None:
    now = [0.0]
    body: dict[str, object] = {"token": "tok"} if expires_in is None else {"token": "tok", "expires_in": expires_in}
    with FakeRegistry(bearer(body)) as fake:
        client = RegistryClient(cache_ttl=0, clock=lambda: now[0])
        image = parse_reference(f"{fake.host}/acme/app")
        client.tags(image)
        now[0] = still_valid_at
        client.tags(image)
        assert client.stats["token"] == 1
        now[0] = expired_at
        client.tags(image)
        assert client.stats["token"] == 2


def test_bearer_with_credentials_from_docker_config(tmp_path: Path) -> None:
    with FakeRegistry(bearer({"token": "t"}, want_basic=BASIC)) as fake:
        cfg = config(tmp_path, {f"https://{fake.host}": {"auth": base64.b64encode(b"alice:s3cret").decode()}})
        assert RegistryClient(docker_config=cfg).tags(parse_reference(f"{fake.host}/acme/app")) == ("1.0.0",)


def test_refused_credentials_name_the_registry_and_never_the_password(tmp_path: Path) -> None:
    with FakeRegistry(bearer({"token": "t"}, want_basic=BASIC)) as fake:
        cfg = config(tmp_path, {fake.host: {"username": "alice", "password": "WRONG-pw"}})
        with pytest.raises(RegistryAuthError) as info:
            RegistryClient(docker_config=cfg).tags(parse_reference(f"{fake.host}/acme/app"))
    message = str(info.value)
    assert message.startswith(f"{fake.host} refused the credentials from {cfg}")
    assert "WRONG-pw" not in message and "alice" not in message


def test_basic_challenge_sends_credentials_then_preemptively(tmp_path: Path) -> None:
    def handle(seen: Seen) -> Reply:
        if seen.headers.get("Authorization") == BASIC:
            return OK
        return json_reply({}, 401, {"WWW-Authenticate": 'Basic realm="fake"'})

    with FakeRegistry(handle) as fake:
        cfg = config(tmp_path, {fake.host: {"username": "alice", "password": "s3cret"}})
        client = RegistryClient(docker_config=cfg, cache_ttl=0)
        client.tags(parse_reference(f"{fake.host}/acme/app"))
        client.tags(parse_reference(f"{fake.host}/acme/app"))
        assert client.stats == {"probe": 1, "tags_page": 3}
        with pytest.raises(RegistryAuthError, match=rf"{fake.host} requires credentials .*docker login"):
            RegistryClient().tags(parse_reference(f"{fake.host}/acme/app"))


def test_identity_token_is_exchanged_by_oauth2_refresh(tmp_path: Path) -> None:
    def handle(seen: Seen) -> Reply:
        if seen.path == "/token":
            form = parse_qs(seen.body.decode())
            good = seen.method == "POST" and form["grant_type"] == ["refresh_token"] and form[
                "refresh_token"] == ["idt"]
            return json_reply({"access_token": "at"} if good else {}, 200 if good else 401)
        return bearer({"access_token": "at"})(seen)

    with FakeRegistry(handle) as fake:
        cfg = config(tmp_path, {fake.host: {"identitytoken": "idt"}})
        assert RegistryClient(docker_config=cfg).tags(parse_reference(f"{fake.host}/acme/app")) == ("1.0.0",)


def test_credential_helper_is_used_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread host\necho "{\\"Username\\": \\"alice\\", \\"Secret\\": \\"s3cret\\"}"\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    cfg = config(tmp_path, {}, credsStore="fake", credHelpers={"ghcr.io": "absent"})
    found = load_credentials(cfg, "127.0.0.1:5000")
    assert found is not None and (found.username, found.password) == ("alice", "s3cret")
    assert load_credentials(cfg, "ghcr.io") is None  # helper not installed: anonymous, not a crash


def test_docker_hub_credentials_use_the_index_key(tmp_path: Path) -> None:
    cfg = config(tmp_path, {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"bob:pw").decode()}})
    found = load_credentials(cfg, parse_reference("nginx").api_host)
    assert found is not None and found.username == "bob"


def rate_limited(times: int, headers: dict[str, str]) -> Callable[[Seen], Reply]:
    count = [0]

    def handle(seen: Seen) -> Reply:
        count[0] += 1
        return json_reply({"errors": [{"code": "TOOMANYREQUESTS"}]}, 429, headers) if count[0] <= times else (
            json_reply({"tags": ["1.0.0"]}, headers={"ratelimit-remaining": "42;w=21600"}))

    return handle


@pytest.mark.parametrize(("headers", "waits"), [({"Retry-After": "2"}, [2.0]), ({}, [1.0, 2.0])])
def test_429_backs_off_then_succeeds(headers: dict[str, str], waits: list[float]) -> None:
    slept: list[float] = []
    with FakeRegistry(rate_limited(len(waits), headers)) as fake:
        client = RegistryClient(sleep=slept.append)
        assert client.tags(parse_reference(f"{fake.host}/acme/app")) == ("1.0.0",)
    assert slept == waits
    assert client.ratelimit_remaining == 42


def test_429_forever_is_rate_limited() -> None:
    slept: list[float] = []
    with FakeRegistry(rate_limited(99, {"ratelimit-remaining": "0;w=21600"})) as fake:
        client = RegistryClient(sleep=slept.append, max_rate_limit_retries=3)
        with pytest.raises(RateLimited, match=r"kept answering HTTP 429 \(rate limited\) after 3 retries"):
            client.tags(parse_reference(f"{fake.host}/acme/app"))
    assert slept == [1.0, 2.0, 4.0]
    assert client.ratelimit_remaining == 0


def test_a_long_retry_after_is_reported_not_slept() -> None:
    slept: list[float] = []
    with FakeRegistry(rate_limited(99, {"Retry-After": "3600"})) as fake, \
            pytest.raises(RateLimited, match="retry in 3600s"):
        RegistryClient(sleep=slept.append).tags(parse_reference(f"{fake.host}/acme/app"))
    assert slept == []
