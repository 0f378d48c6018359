"""tagpin's ranges against the real node-semver: npm_ranges.json is written by gen_npm_ranges.js (see there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.domain.ranges import parse_range
from bot.domain.tags import RELEASE, read_core
from bot.errors import PolicyError

TABLE: dict[str, Any] = json.loads((Path(__file__).with_name("npm_ranges.json")).read_text())
VERSIONS: list[str] = TABLE["versions"]

# npm reads these; tagpin refuses them on purpose: each would silently mean something other than written.
STRICTER = {
    "~1.x.5": "a number after a wildcard",   # npm drops the .5 under ~ and ^ (and refuses plain `1.x.5`)
    "^x.1": "a number after a wildcard",
    "1.x.5 - 2": "a number after a wildcard",
    "1 - x.1": "a number after a wildcard",
    "1.x.x-rc.1": "a prerelease needs a full X.Y.Z",  # npm drops the prerelease
    "1.2.x-rc.1": "a prerelease needs a full X.Y.Z",
    "": "constraint is empty",                  # npm: `*`; tagpin: omit the constraint instead
    "1.2 ||": "empty alternative",              # npm: `*`, which is almost surely not what was meant
    "||": "empty alternative",
}


def key(version: str) -> tuple[object, ...]:
    read = read_core(version, two_part=False)
    assert not isinstance(read, str), read
    return read


def test_table_is_from_node_semver_7() -> None:
    assert TABLE["semver"].startswith("7.") and len(TABLE["ranges"]) > 80
    assert {row["range"] for row in TABLE["ranges"] if row["valid"]} >= set(STRICTER)


@pytest.mark.parametrize("row", [r for r in TABLE["ranges"] if r["valid"] and r["range"] not in STRICTER],
                         ids=lambda r: r["range"])
def test_range_admits_what_npm_admits(row: dict[str, Any]) -> None:
    # prerelease: true is npm's includePrerelease; prerelease: false never offers a prerelease at all.
    with_pre, plain = parse_range(row["range"], True), parse_range(row["range"], False)
    wrong = [v for v in VERSIONS if with_pre.test(key(v)) != (v in row["prerelease"])]
    assert not wrong, f"prerelease: true; npm reads {row['desugared_prerelease']}, tagpin {with_pre}"
    releases = [v for v in VERSIONS if key(v)[3] == RELEASE]
    wrong = [v for v in releases if plain.test(key(v)) != (v in row["release"])]
    assert not wrong, f"prerelease: false; npm reads {row['desugared']}, tagpin {plain}"


@pytest.mark.parametrize("row", [r for r in TABLE["ranges"] if not r["valid"]], ids=lambda r: r["range"])
def test_range_npm_refuses_is_refused(row: dict[str, Any]) -> None:
    for include_prerelease in (False, True):
        with pytest.raises(PolicyError, match="constraint"):
            parse_range(row["range"], include_prerelease)


@pytest.mark.parametrize(("constraint", "reason"), STRICTER.items())
def test_stricter_than_npm_on_purpose(constraint: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        parse_range(constraint, True)


def test_tilde_and_x_range_agree() -> None:  # the pair: `~1.4` and `1.4.x` are one range
    assert str(parse_range("~1.4", True)) == str(parse_range("1.4.x", True)) == ">=1.4.0-0 <1.5.0-0"
