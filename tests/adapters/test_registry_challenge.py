"""WWW-Authenticate with several challenges: checked against go-containerregistry's and distribution's tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.registry import RegistryClient
from bot.adapters.registry_challenge import choose, parse_challenges
from bot.domain.references import parse_reference
from bot.errors import RegistryAuthError
from tests.support import oracles
from tests.support.fake_registry import FakeRegistry, Reply, Seen, json_reply

HEADERS = "registry-headers.json"


def test_oracle_is_there() -> None:
    assert oracles.load(HEADERS)["challenges"]  # an absent file must not pass as an empty table


@pytest.mark.parametrize("case", oracles.cases(HEADERS, "challenges"), ids=lambda c: c["test"])
def test_challenges_oracle(case: dict[str, Any]) -> None:
    if case["status"] != "Unauthorized":  # ggcr: a 403 is an error whatever the header says
        with FakeRegistry(lambda seen: json_reply({}, 403, {"WWW-Authenticate": case["headers"][0]})) as fake, \
                pytest.raises(RegistryAuthError):
            RegistryClient().tags(parse_reference(f"{fake.host}/acme/app"))
        assert case["expected_error"]
        return
    # Several WWW-Authenticate headers reach us joined by ", " (urllib3's HTTPHeaderDict, RFC 9110 5.3).
    chosen = choose(parse_challenges(", ".join(case["headers"])))
    assert chosen is not None and chosen.scheme == case["expected_scheme"]
    if case["expected_params"] is not None:
        assert len(chosen.params) == case["expected_params"]


@pytest.mark.parametrize("case", oracles.cases(HEADERS, "challenge_parse"), ids=lambda c: c["test"])
def test_challenge_parse_oracle(case: dict[str, Any]) -> None:
    expected = dict(case["expected"])
    [challenge] = parse_challenges(case["header"])
    assert challenge.scheme == expected.pop("scheme")
    assert challenge.params == expected


@pytest.mark.parametrize(("header", "schemes"), [
    ('Negotiate, Basic realm="x"', ["negotiate", "basic"]),
    ('Negotiate abc==, Bearer realm="http://h/t",service="s"', ["negotiate", "bearer"]),
    ('Bearer realm="http://h/a,b",scope="repository:x:pull,push"', ["bearer"]),   # commas inside quotes
    ("", []),
])
def test_every_challenge_is_split_out(header: str, schemes: list[str]) -> None:
    assert [c.scheme for c in parse_challenges(header)] == schemes


def test_token68_is_not_taken_for_a_parameter() -> None:
    assert parse_challenges("Negotiate abc==")[0].params == {}
    assert parse_challenges('Bearer realm="http://h/a,b"')[0].params == {"realm": "http://h/a,b"}


def _negotiate_first(second: str) -> FakeRegistry:
    def handle(seen: Seen) -> Reply:
        if seen.path == "/token":
            return json_reply({"token": "tok"})
        if seen.headers.get("Authorization") in ("Bearer tok", "Basic YWxpY2U6czNjcmV0"):
            return json_reply({"tags": ["1.0.0"]})
        realm = f"http://{seen.headers['Host']}/token"
        return json_reply({}, 401, {"WWW-Authenticate": "Negotiate, " + second.format(realm=realm)})

    return FakeRegistry(handle)


def test_bearer_offered_after_negotiate_is_answered() -> None:
    with _negotiate_first('Bearer realm="{realm}",service="fake"') as fake:
        client = RegistryClient()
        assert client.tags(parse_reference(f"{fake.host}/acme/app")) == ("1.0.0",)
        assert client.stats["token"] == 1
        assert next(s for s in fake.seen if s.path == "/token").query["service"] == ["fake"]


def test_basic_offered_after_negotiate_is_answered(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    with _negotiate_first('Basic realm="fake"') as fake:
        cfg.write_text(json.dumps({"auths": {fake.host: {"username": "alice", "password": "s3cret"}}}))
        assert RegistryClient(docker_config=cfg).tags(parse_reference(f"{fake.host}/acme/app")) == ("1.0.0",)


def test_only_unanswerable_schemes_name_what_was_offered() -> None:
    with FakeRegistry(lambda seen: json_reply({}, 401, {"WWW-Authenticate": "Negotiate, Digest realm=x"})) as fake, \
            pytest.raises(RegistryAuthError) as info:
        RegistryClient().tags(parse_reference(f"{fake.host}/acme/app"))
    assert str(info.value) == (f"{fake.host} asks for an auth scheme tagpin cannot answer (offered: negotiate, "
                               "digest); tagpin answers Bearer (with a realm) and Basic")
