"""tagpin's ranges against node-semver's own fixtures (shared/oracles/node-semver*.json, read in place)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.domain.ranges import parse_range
from bot.domain.tags import RELEASE, read_core
from bot.errors import PolicyError
from tests.domain.test_npm_ranges import VERSIONS
from tests.support import oracles

FILES = ("node-semver.json", "node-semver-v7.7.3.json")  # node-semver HEAD and the v7.7.3 tag
# Where tagpin refuses on purpose what npm reads (see test_npm_ranges.STRICTER): an empty constraint or
# alternative (npm: `*`) and a prerelease on a wildcard (npm drops it).
STRICTER = re.compile(r"^\s*$|^\s*\|\||\|\|\s*$|[xX*]-")


def _cases(section: str) -> list[tuple[str, dict[str, Any]]]:
    # tagpin reads strict semver only, so npm's `loose` rows say nothing about it.
    return [(name, case) for name in FILES for case in oracles.cases(name, section)
            if not case["options"]["loose"] and all(isinstance(c, str) for c in case["cells"][:2])]


def _key(version: str) -> tuple[object, ...] | None:
    read = read_core(version, two_part=False)
    return None if isinstance(read, str) else read


def _id(item: tuple[str, dict[str, Any]]) -> str:
    name, case = item
    return f"{name.removesuffix('.json')}#{case['index']}"


def test_oracles_present() -> None:
    for name in FILES:
        assert oracles.load(name)["source"]["repo"] == "github.com/npm/node-semver"


@pytest.mark.parametrize("item", _cases("range_include") + _cases("range_exclude"), ids=_id)
def test_satisfies(item: tuple[str, dict[str, Any]]) -> None:
    name, case = item
    constraint, version = case["cells"][:2]
    inside = case in oracles.load(name)["range_include"]
    key = _key(version)
    if key is None:  # `glorp`, `not a version`: never a candidate, so inside no range
        assert not inside
        return
    if STRICTER.search(constraint):
        with pytest.raises(PolicyError):
            parse_range(constraint)
        return
    include = case["options"]["includePrerelease"]
    if key[3] != RELEASE and not include:
        # Without the opt-in tagpin offers no prerelease at all; npm's same-X.Y.Z exception is a subset
        # of what includePrerelease admits, so an npm "inside" must hold with tagpin's opt-in.
        if not inside:
            return
        include = True
    assert parse_range(constraint, include).test(key) is inside, str(parse_range(constraint, include))


@pytest.mark.parametrize("item", _cases("range_parse"), ids=_id)
def test_parse(item: tuple[str, dict[str, Any]]) -> None:
    _, case = item
    constraint, desugared = case["cells"][:2]
    include = case["options"]["includePrerelease"]
    if desugared is None or not isinstance(desugared, str) or STRICTER.search(constraint):
        with pytest.raises(PolicyError):
            parse_range(constraint, include)
        return
    # npm prints a simplified text (`^ 1.2 ^ 1` → `>=1.2.0 <2.0.0-0 >=1.0.0`); compare what the two admit.
    ours, theirs = parse_range(constraint, include), parse_range(desugared, include)
    grid = [k for k in map(_key, VERSIONS + re.findall(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", desugared)) if k]
    # Without the opt-in no prerelease is ever tested against a range (select rejects it first).
    wrong = [k for k in grid if (include or k[3] == RELEASE) and ours.test(k) != theirs.test(k)]
    assert not wrong, f"npm: {desugared}; tagpin: {ours}"
