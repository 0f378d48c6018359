"""The 255-character limit is on the repository path, not the host (distribution/reference reference.go)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.references import NAME_TOTAL_LENGTH_MAX, parse_reference
from bot.errors import ImageReferenceError
from tests.support import oracles

TABLE = "distribution-reference.json"
LONG_HOST = ".".join(["registry"] * 30) + ":5000"   # 272 characters of host


def _long(case: dict[str, Any]) -> bool:
    return len(case["input"]) > NAME_TOTAL_LENGTH_MAX


def test_oracle_has_long_names() -> None:
    assert [c for c in oracles.load(TABLE)["TestReferenceParse"] if _long(c)]


@pytest.mark.parametrize("case", [c for c in oracles.cases(TABLE, "TestReferenceParse") if _long(c)],
                         ids=lambda c: c["input"][:24])
def test_reference_parse_oracle_long_names(case: dict[str, Any]) -> None:
    if "err" in case:
        assert case["err"]["ident"] == "ErrNameTooLong"
        with pytest.raises(ImageReferenceError, match="repository path longer than 255"):
            parse_reference(case["input"])
        return
    ref = parse_reference(case["input"])
    assert (ref.tag, ref.name()) == (case.get("tag"), case["repository"])


def test_long_host_with_a_path_at_the_limit_is_valid() -> None:
    path = "acme/" + "a" * (NAME_TOTAL_LENGTH_MAX - 5)
    ref = parse_reference(f"{LONG_HOST}/{path}:1.0.0")
    assert (ref.registry, ref.repository, ref.tag) == (LONG_HOST, path, "1.0.0")


def test_path_one_past_the_limit_is_refused_whatever_the_host() -> None:
    with pytest.raises(ImageReferenceError, match=r"repository path longer than 255 characters \(256\)"):
        parse_reference("ghcr.io/acme/" + "a" * (NAME_TOTAL_LENGTH_MAX - 4))


def test_docker_hub_names_count_library() -> None:
    # normalize.go parses "docker.io/library/<name>": the API path is what must fit.
    parse_reference("a" * (NAME_TOTAL_LENGTH_MAX - len("library/")))
    with pytest.raises(ImageReferenceError, match=r"\(256\)"):
        parse_reference("a" * (NAME_TOTAL_LENGTH_MAX - len("library/") + 1))
