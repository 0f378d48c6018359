"""Version grammar and precedence: SemVer 2.0.0 tables, with python-semver as a second opinion."""

from __future__ import annotations

import random

import pytest
import semver

from bot.domain.versions import Policy, Rejection, Version, parse_tag, select

OPTED_IN = Policy(prerelease=True)


def version(tag: str, policy: Policy = OPTED_IN) -> Version:
    parsed = parse_tag(tag, policy)
    assert isinstance(parsed, Version), parsed
    return parsed


# SemVer 2.0.0 §11.4, the spec's own example chain, plus §11.4.1 (numeric ids compare numerically).
SPEC_ORDER = [
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.9", "1.0.0-alpha.10", "1.0.0-alpha.beta", "1.0.0-beta",
    "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.9.0", "1.10.0", "2.0.0",
]


def test_semver_11_precedence_chain() -> None:
    shuffled = SPEC_ORDER[:]
    random.Random(3).shuffle(shuffled)
    assert [str(v) for v in sorted(version(t) for t in shuffled)] == SPEC_ORDER
    best = select(shuffled, OPTED_IN).candidates
    assert [c.tag for c in best] == SPEC_ORDER[::-1]


def test_precedence_agrees_with_python_semver() -> None:
    rng = random.Random(11)
    ids = ["alpha", "beta", "rc", "0", "1", "2", "10", "a1", "1a", "x-y"]
    tags = {
        f"{rng.randrange(3)}.{rng.randrange(3)}.{rng.randrange(3)}"
        + (("-" + ".".join(rng.choices(ids, k=rng.randrange(1, 4)))) if rng.random() < 0.7 else "")
        for _ in range(400)
    }
    ours = [str(v) for v in sorted(version(t) for t in tags)]
    theirs = [str(v) for v in sorted(semver.Version.parse(t) for t in tags)]
    assert ours == theirs


def test_build_metadata_is_ignored_for_precedence() -> None:  # §10
    assert version("1.0.0+build.1") == version("1.0.0+build.2") == version("1.0.0")
    assert str(version("1.0.0-rc.1+exp.sha.5114f85")) == "1.0.0-rc.1"


@pytest.mark.parametrize(
    ("tag", "normalized"),
    [("1.2.3", "1.2.3"), ("v1.2.3", "1.2.3"), ("1.10.0", "1.10.0"), ("v1.0.0-rc.1", "1.0.0-rc.1"),
     ("0.0.0", "0.0.0"), ("1.0.0-0A.is.legal", "1.0.0-0A.is.legal")],
)
def test_semver_mode_reads(tag: str, normalized: str) -> None:
    assert str(version(tag)) == normalized


REJECTIONS = [
    # (tag, mode, reason)
    ("latest", "semver", "floating tag, not a version"),
    ("main", "semver", "floating tag, not a version"),
    ("edge", "two-part", "floating tag, not a version"),
    ("stable", "semver", "floating tag, not a version"),
    ("banana", "semver", "not a version"),
    ("sha-1a2b3c4", "semver", "commit tag, not a version"),
    ("sha256-" + "ab" * 32 + ".sig", "semver", "signature/attestation tag"),
    ("sha256-" + "0f" * 32 + ".att", "two-part", "signature/attestation tag"),
    ("sha256-" + "0f" * 32 + ".sbom", "semver", "signature/attestation tag"),
    ("42", "semver", "bare number, not a version"),
    ("20240115", "semver", "date, not a version"),
    ("20240115", "two-part", "date, not a version"),
    ("2024.01.15", "semver", "date, not a version"),
    ("2024-01-15", "two-part", "date, not a version"),
    ("4711", "two-part", "bare number ≥ 1000 (a date or build number), not a version"),
    ("1.2.3-rc.01", "semver", "invalid semver: leading zero in 1.2.3-rc.01"),  # §9
    ("01.2.3", "semver", "invalid semver: leading zero in 01.2.3"),  # §2
    ("1.02.3", "two-part", "invalid semver: leading zero in 1.02.3"),
    ("1.2.3-rc..1", "semver", "invalid semver: empty prerelease identifier in 1.2.3-rc..1"),  # §9
    ("1.2.3-rc_1", "semver", "invalid semver: prerelease 'rc_1' may only hold [0-9A-Za-z-] and dots"),
    ("1.2", "semver", "X.Y, not X.Y.Z (mode two-part accepts X.Y tags)"),
    ("1.2.3.4", "semver", "four-part version, not semver"),
    ("V1.2.3", "semver", "not a version"),
    ("1.0.0-rc.1", "semver", "prerelease (policy does not opt in)"),
    ("17.0-beta", "two-part", "prerelease (policy does not opt in)"),
]


@pytest.mark.parametrize(("tag", "mode", "reason"), REJECTIONS)
def test_rejections_say_why(tag: str, mode: str, reason: str) -> None:
    policy = Policy.from_mapping({"mode": mode})
    assert parse_tag(tag, policy) == Rejection(tag, reason)
    assert select([tag], policy).rejected == (Rejection(tag, reason),)


@pytest.mark.parametrize("tag", ["1.2.3-rc.01", "01.2.3", "1.2.3-01"])
def test_invalid_semver_is_never_a_candidate_even_opted_in(tag: str) -> None:
    assert isinstance(parse_tag(tag, OPTED_IN), Rejection)
    assert not semver.Version.is_valid(tag)


@pytest.mark.parametrize(
    ("tag", "normalized"),
    [("17", "17.0.0"), ("17.0", "17.0.0"), ("17.2", "17.2.0"), ("v17.2", "17.2.0"), ("7.2.4", "7.2.4"),
     ("999", "999.0.0")],
)
def test_two_part_mode_reads(tag: str, normalized: str) -> None:
    assert str(version(tag, Policy(mode="two-part"))) == normalized


def test_two_part_aliases_prefer_the_more_specific_spelling() -> None:
    chosen = select(["17", "16", "17.0", "16.4", "16.4.0", "v16.4"], Policy(mode="two-part"))
    assert [(c.tag, c.aliases) for c in chosen.candidates] == [
        ("17.0", ("17",)), ("16.4.0", ("16.4", "v16.4")), ("16", ()),
    ]


def test_semver_aliases_prefer_the_spelling_without_v() -> None:
    chosen = select(["v1.2.3", "1.2.3", "v1.3.0"], Policy())
    assert [(c.tag, c.aliases) for c in chosen.candidates] == [("v1.3.0", ()), ("1.2.3", ("v1.2.3",))]
    assert chosen.rejected == ()


def test_repeated_tags_are_read_once() -> None:
    chosen = select(["1.0.0", "latest", "1.0.0", "latest"], Policy())
    assert [(c.tag, c.aliases) for c in chosen.candidates] == [("1.0.0", ())]
    assert chosen.rejected == (Rejection("latest", "floating tag, not a version"),)


def test_version_is_hashable_and_totally_ordered() -> None:
    a, b = Version(1, 2, 3), Version(1, 2, 3)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert Version(1, 2, 3, ("rc", 1)) < a <= b < Version(1, 2, 4) and a >= b > Version(0, 9, 9)
    assert version("1.2.3") == Version(1, 2, 3) and version("1.0.0-rc.1") == Version(1, 0, 0, ("rc", 1))
