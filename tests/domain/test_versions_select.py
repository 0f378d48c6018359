"""select(): policy validation, the CLI case, downgrade floor, variants, an unreadable running tag."""

from __future__ import annotations

import pytest

from bot.domain.versions import (
    KNOWN_POLICY_KEYS,
    Policy,
    Rejection,
    Version,
    is_major_jump,
    parse_tag,
    select,
)
from bot.errors import PolicyError

CLI_TAGS = ["latest", "1.2.0", "1.9.0", "1.10.0", "2.0.0-rc.1"]
SLIM = r"^(?P<version>\d+\.\d+\.\d+)-(?P<variant>slim|alpine)(?:-r(?P<rev>\d+))?$"


@pytest.mark.parametrize(
    ("block", "best"),
    [
        ({}, "1.10.0"),  # DESIGN.md: the incident, `latest` is never chosen
        ({"prerelease": True}, "2.0.0-rc.1"),
        ({"prerelease": True, "constraint": "<2"}, "1.10.0"),  # npm includePrerelease: <2 is <2.0.0-0
        ({"prerelease": True, "constraint": "<2.0.0"}, "2.0.0-rc.1"),  # 2.0.0-rc.1 < 2.0.0 (§11.3)
        ({"constraint": "^1.4"}, "1.10.0"),
        ({"constraint": "~1.9"}, "1.9.0"),
        ({"constraint": "1.2.x"}, "1.2.0"),
        ({"constraint": ">=3"}, None),
    ],
)
def test_the_cli_case(block: dict[str, object], best: str | None) -> None:
    chosen = select(CLI_TAGS, Policy.from_mapping(block)).best
    assert (chosen.tag if chosen else None) == best


def test_every_rejected_tag_has_its_reason_in_input_order() -> None:
    chosen = select([*CLI_TAGS, "v1.9.0"], Policy(constraint=">=1.0.0 <2.0.0"), current="1.9.0")
    assert [(c.tag, c.aliases) for c in chosen.candidates] == [("1.10.0", ()), ("1.9.0", ("v1.9.0",))]
    assert chosen.rejected == (
        Rejection("latest", "floating tag, not a version"),
        Rejection("1.2.0", "below the running version 1.9.0"),
        Rejection("2.0.0-rc.1", "prerelease (policy does not opt in)"),
    )


def test_constraint_reason_shows_the_desugared_range() -> None:
    chosen = select(["2.1.0", "1.5.0"], Policy(constraint="^1.4"))
    assert chosen.rejected == (Rejection("2.1.0", "outside constraint ^1.4 (>=1.4.0 <2.0.0-0)"),)


def test_downgrade_floor_and_allow_downgrade() -> None:
    tags = ["1.2.0", "1.8.0", "1.9.0"]
    held = select(tags, Policy(), current="1.9.0")
    assert [c.tag for c in held.candidates] == ["1.9.0"]
    assert held.current == Version(1, 9, 0)
    allowed = select(tags, Policy(), current="1.9.0", allow_downgrade=True)
    assert [c.tag for c in allowed.candidates] == ["1.9.0", "1.8.0", "1.2.0"]


def test_running_prerelease_sets_the_floor_even_when_candidates_may_not_be_prereleases() -> None:
    chosen = select(["1.10.0", "2.0.0"], Policy(), current="2.0.0-rc.1")
    assert [c.tag for c in chosen.candidates] == ["2.0.0"]
    assert chosen.rejected == (Rejection("1.10.0", "below the running version 2.0.0-rc.1"),)


@pytest.mark.parametrize("current", ["latest", "sha-abc1234", "1.2"])
def test_unreadable_running_tag_is_treated_as_unknown_and_said(current: str) -> None:
    chosen = select(["1.2.0", "1.9.0"], Policy(), current=current)
    assert chosen.current is None
    assert f"running tag {current} is not a version" in (chosen.current_note or "")
    assert [c.tag for c in chosen.candidates] == ["1.9.0", "1.2.0"]


def test_pattern_mode_variant_rev_and_floor() -> None:
    policy = Policy(mode="pattern", pattern=SLIM)
    tags = ["1.2.3-slim-r1", "1.2.3-slim-r2", "1.2.3-alpine-r9", "1.3.0-slim", "1.2.2-slim-r5", "1.2.3", "v"]
    chosen = select(tags, policy, current="1.2.3-slim-r1")
    assert [c.tag for c in chosen.candidates] == ["1.3.0-slim", "1.2.3-slim-r2", "1.2.3-slim-r1"]
    assert chosen.rejected == (
        Rejection("1.2.3-alpine-r9", "variant alpine ≠ running variant slim"),
        Rejection("1.2.2-slim-r5", "below the running version 1.2.3 r1"),
        Rejection("1.2.3", "does not match the policy pattern"),
        Rejection("v", "does not match the policy pattern"),
    )
    assert chosen.current == Version(1, 2, 3, variant="slim", rev=1)


def test_pattern_mode_without_running_tag_ranks_all_variants() -> None:
    chosen = select(["1.2.3-slim-r2", "1.2.3-slim-r10", "1.2.4-alpine"], Policy(mode="pattern", pattern=SLIM))
    assert [c.tag for c in chosen.candidates] == ["1.2.4-alpine", "1.2.3-slim-r10", "1.2.3-slim-r2"]


def test_pattern_mode_reads_the_version_group_as_semver_or_shorter() -> None:
    policy = Policy(mode="pattern", pattern=r"(?P<version>v?[\d.]+(?:-rc\.\d+)?)-(?P<variant>slim)")
    assert parse_tag("v1.2.3-slim", policy) == Version(1, 2, 3, variant="slim")
    assert parse_tag("1.2-slim", policy) == Version(1, 2, 0, variant="slim")  # X and X.Y read as in two-part
    assert parse_tag("1.2.3.4-slim", policy) == Rejection(
        "1.2.3.4-slim", "version part '1.2.3.4': four-part version, not semver"
    )
    rc = "1.2.3-rc.1-slim"
    assert parse_tag(rc, policy) == Rejection(rc, "prerelease (policy does not opt in)")
    assert select(["1.2.3-slim", "v1.2.3-slim"], policy).candidates[0].aliases == ("v1.2.3-slim",)


BAD_POLICIES = [
    ({"mode": "calver"}, "unknown mode 'calver'"),
    ({"mode": "pattern"}, "mode pattern needs a pattern"),
    ({"mode": "pattern", "pattern": "(?P<version>"}, "not a valid regular expression"),
    ({"mode": "pattern", "pattern": r"\d+"}, r"no named group \(\?P<version>"),
    ({"mode": "pattern", "pattern": r"(?P<version>.+)-(?P<varient>\w+)"}, "unknown group varient"),
    ({"pattern": r"(?P<version>.+)"}, "pattern is only used with mode: pattern"),
    ({"constraint": ">=foo"}, "cannot read '>=foo'"),
    ({"constraint": 1.10}, "constraint must be a string; quote it in YAML"),
    ({"prerelease": "yes"}, "prerelease must be true or false"),
    ({"constrant": "^1"}, "unknown x-tagpin key 'constrant'"),
    ({"mode": 3}, "mode must be a string"),
]


@pytest.mark.parametrize(("block", "message"), BAD_POLICIES)
def test_bad_policies_are_refused_with_a_specific_message(block: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_mapping(block)


def test_policy_parses_its_constraint_once_and_compares_by_value() -> None:
    policy = Policy.from_mapping({"mode": "semver", "constraint": "^1.4", "prerelease": False})
    assert {"mode", "constraint", "prerelease", "pattern", "min_age"} == KNOWN_POLICY_KEYS
    assert policy == Policy(constraint="^1.4") and hash(policy) == hash(Policy(constraint="^1.4"))
    assert policy.range is policy.range and str(policy.range) == ">=1.4.0 <2.0.0-0"
    assert str(Policy(constraint="^1.4", prerelease=True).range) == ">=1.4.0-0 <2.0.0-0"
    assert Policy().range is None


@pytest.mark.parametrize(
    ("current", "target", "jump"),
    [("1.9.0", "1.10.0", False), ("1.9.0", "2.0.0", True), ("2.0.0", "1.9.0", True),
     ("0.2.3", "0.2.9", False), ("0.2.3", "0.3.0", True), ("1.0.0-rc.1", "1.0.0", False),
     # SemVer §4: below 1.0.0 anything may change; by npm's caret (`^0.0.1` is `<0.0.2-0`) every 0.0.x
     # patch is breaking, as is any change of the leftmost non-zero part.
     ("0.0.1", "0.0.2", True), ("0.0.2", "0.0.1", True), ("0.0.9", "0.1.0", True),
     ("0.0.1-rc.1", "0.0.1", False), ("0.1.0", "0.1.7", False)],
)
def test_major_jumps(current: str, target: str, jump: bool) -> None:  # SemVer §4 and §8
    policy = Policy(prerelease=True)
    a, b = parse_tag(current, policy), parse_tag(target, policy)
    assert isinstance(a, Version) and isinstance(b, Version)
    assert is_major_jump(a, b) is jump
