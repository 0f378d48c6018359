"""npm range semantics, as documented in node-semver's README ("Advanced Range Syntax") and range.js."""

from __future__ import annotations

import pytest

from bot.domain.ranges import parse_range
from bot.domain.tags import read_core
from bot.errors import PolicyError


def admits(constraint: str, version: str, include_prerelease: bool = False) -> bool:
    key = read_core(version, two_part=False)
    assert not isinstance(key, str), key
    return parse_range(constraint, include_prerelease).test(key)


# The equivalences and node-semver's README ("X-Ranges", "Tilde Ranges", "Caret Ranges",
# "Hyphen Ranges"): each row is the constraint, what it desugars to, versions inside, versions outside.
DESUGAR = [
    ("^1.4", ">=1.4.0 <2.0.0-0", ["1.4.0", "1.9.9", "1.40.0"], ["1.3.9", "2.0.0"]),
    ("~1.4", ">=1.4.0 <1.5.0-0", ["1.4.0", "1.4.99"], ["1.5.0", "1.3.9"]),
    ("1.4.x", ">=1.4.0 <1.5.0-0", ["1.4.0", "1.4.7"], ["1.5.0", "1.3.0"]),
    ("1.4.*", ">=1.4.0 <1.5.0-0", ["1.4.0"], ["1.5.0"]),
    ("1.4", ">=1.4.0 <1.5.0-0", ["1.4.3"], ["1.5.0", "1.3.9"]),
    ("1.x", ">=1.0.0 <2.0.0-0", ["1.0.0", "1.99.1"], ["2.0.0", "0.9.0"]),
    (">=1.2 <2", ">=1.2.0 <2.0.0-0", ["1.2.0", "1.99.0"], ["1.1.9", "2.0.0"]),
    (">= 1.2 < 2", ">=1.2.0 <2.0.0-0", ["1.5.0"], ["2.0.0"]),
    (">=1.0.0 <2.0.0", ">=1.0.0 <2.0.0", ["1.0.0", "1.10.0"], ["0.9.9", "2.0.0"]),
    ("^0.2.3", ">=0.2.3 <0.3.0-0", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
    ("^0.0.3", ">=0.0.3 <0.0.4-0", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ("^0.0", ">=0.0.0 <0.1.0-0", ["0.0.9"], ["0.1.0"]),
    ("^1.2.3", ">=1.2.3 <2.0.0-0", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0"]),
    ("~1.2.3", ">=1.2.3 <1.3.0-0", ["1.2.9"], ["1.3.0", "1.2.2"]),
    ("~1", ">=1.0.0 <2.0.0-0", ["1.9.0"], ["2.0.0"]),
    ("~>1.2", ">=1.2.0 <1.3.0-0", ["1.2.5"], ["1.3.0"]),
    ("1.2 - 1.4", ">=1.2.0 <1.5.0-0", ["1.2.0", "1.4.9"], ["1.5.0", "1.1.9"]),
    ("1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4", ["1.2.3", "2.3.4"], ["2.3.5", "1.2.2"]),
    ("1.2.3 - 2", ">=1.2.3 <3.0.0-0", ["2.9.9"], ["3.0.0"]),
    ("<1.0.0 || >=2.1", "<1.0.0 || >=2.1.0", ["0.9.0", "2.1.0"], ["1.5.0", "2.0.9"]),
    (">1.2", ">=1.3.0", ["1.3.0"], ["1.2.9"]),
    (">1", ">=2.0.0", ["2.0.0"], ["1.9.9"]),
    ("<=1.2", "<1.3.0-0", ["1.2.9"], ["1.3.0"]),
    ("<2", "<2.0.0-0", ["1.99.99"], ["2.0.0"]),
    ("1.2.3", "=1.2.3", ["1.2.3"], ["1.2.4"]),
    ("v1.2.3", "=1.2.3", ["1.2.3"], ["1.2.4"]),
    ("=1.2.3", "=1.2.3", ["1.2.3"], ["1.2.2"]),
    ("*", "*", ["0.0.0", "9.9.9"], []),
    ("x", "*", ["1.0.0"], []),
    ("<x", "<0.0.0-0", [], ["0.0.0", "1.0.0"]),
]


@pytest.mark.parametrize(("constraint", "desugared", "inside", "outside"), DESUGAR)
def test_npm_desugaring(constraint: str, desugared: str, inside: list[str], outside: list[str]) -> None:
    assert str(parse_range(constraint)) == desugared
    for version in inside:
        assert admits(constraint, version), f"{constraint} should admit {version}"
    for version in outside:
        assert not admits(constraint, version), f"{constraint} should not admit {version}"


# node-semver with {includePrerelease: true}: lower bounds of partial/caret/x ranges start at -0, so
# prereleases of the bound's own X.Y.Z count; `<2` is `<2.0.0-0` (no 2.0.0 prerelease), but a plain
# `<2.0.0` admits 2.0.0-rc.1 because 2.0.0-rc.1 < 2.0.0 (SemVer §11.3).
PRERELEASE = [
    ("<2", "2.0.0-rc.1", False),
    ("<2.0.0", "2.0.0-rc.1", True),
    ("^1.4", "1.4.0-rc.1", True),
    ("^1.4", "2.0.0-rc.1", False),
    ("^1.4", "1.7.0-beta.2", True),
    (">=1.4.0", "1.4.0-rc.1", False),
    (">=1.4", "1.4.0-rc.1", True),
    ("~1.4", "1.4.0-rc.1", True),  # node-semver 7.7+: a partial lower bound starts at -0, as for 1.4.x
    ("~1.4", "1.4.1-rc.1", True),
    ("~1.4.2", "1.4.2-rc.1", False),  # ... a full one at the release itself
    ("^1.2.3", "1.2.3-rc.1", False),  # node-semver 7.7+: ^0.2.3 and ^1.2.3 alike (no -0)
    ("^0.2.3", "0.2.3-rc.1", False),
    ("^1.2.3-beta.2", "1.2.3-beta.3", True),
    ("^1.2.3-beta.2", "1.2.3-beta.1", False),
    ("1.2 - 1.4.5", "1.4.5-rc.1", True),
    ("1.2 - 1.4.5", "1.4.6-rc.1", False),
]


@pytest.mark.parametrize(("constraint", "version", "admitted"), PRERELEASE)
def test_include_prerelease_semantics(constraint: str, version: str, admitted: bool) -> None:
    assert admits(constraint, version, include_prerelease=True) is admitted


MALFORMED = [
    ("", "constraint is empty"),
    ("   ", "constraint is empty"),
    (">=foo", "cannot read '>=foo'"),
    ("^^1", "cannot read '^^1'"),
    ("1.2.3.4", "cannot read '1.2.3.4'"),
    (">=01.2", "leading zero"),
    (">=1.2 ||", "empty alternative"),
    ("|| 1.2", "empty alternative"),
    (">=", "operator '>=' without a version"),
    ("1.x-rc.1", "cannot read"),
    ("1.2 - banana", "cannot read 'banana'"),
]


@pytest.mark.parametrize(("constraint", "message"), MALFORMED)
def test_malformed_constraint_is_a_policy_error(constraint: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("^", r"\^").replace("|", r"\|")):
        parse_range(constraint)
