"""Tag grammar: read one registry tag as a Version, or say precisely why it is not one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from bot.domain.references import digest_grammar

PreId = int | str
PreKey = tuple[object, ...]
SemKey = tuple[int, int, int, PreKey]

# A release sorts above every prerelease of the same X.Y.Z (SemVer 2.0.0 §11.3): (1,) > (0, ...).
RELEASE: PreKey = (1,)
PRE_ID = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
PRE = rf"{PRE_ID}(?:\.{PRE_ID})*"
BUILD = r"[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*"


def pre_ids(text: str) -> tuple[PreId, ...]:
    """`rc.1` → ("rc", 1): numeric identifiers compare numerically (§11.4.1)."""
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


@lru_cache(maxsize=4096)
def pre_text_key(text: str) -> PreKey:
    """pre_key(pre_ids(text)), memoised: registries repeat the same few prerelease spellings."""
    return pre_key(pre_ids(text))


def pre_key(ids: tuple[PreId, ...]) -> PreKey:
    """Sort key of a prerelease: numeric ids below alphanumeric ones, longer set wins ties (§11.4)."""
    if not ids:
        return RELEASE
    return (0, *[(0, i) if isinstance(i, int) else (1, i) for i in ids])


@lru_cache(maxsize=4096)
def ids_of(key: PreKey) -> tuple[PreId, ...]:
    """The identifiers a prerelease key was made from (inverse of pre_key)."""
    return tuple(cast(tuple[int, PreId], part)[1] for part in key[1:])


# semver.org's own regex (§2, §9, §10: no leading zeros), optionally `v`-prefixed; two-part mode makes
# minor and patch optional so `17`, `17.0` and `17.0.0` all read.
_NUM = r"0|[1-9]\d*"
_TAIL = rf"(?:-(?P<pre>{PRE}))?(?:\+(?P<build>{BUILD}))?"
SEMVER = re.compile(rf"v?(?P<M>{_NUM})\.(?P<m>{_NUM})\.(?P<p>{_NUM}){_TAIL}")
TWO_PART = re.compile(rf"v?(?P<M>{_NUM})(?:\.(?P<m>{_NUM})(?:\.(?P<p>{_NUM}))?)?{_TAIL}")
# Loose shapes, only consulted for tags that failed the strict grammar, to name the defect.
_LOOSE = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([^+]*))?(?:\+(.*))?")
_PRE_CHARS = re.compile(r"[0-9A-Za-z.-]*")
# Cosign's signature, attestation and SBOM tags: the signed digest with `-` for `:`, by the one digest grammar.
_SIGNATURE = re.compile(rf"(?:{digest_grammar('-')})\.(?:sig|att|sbom)")
_COMMIT = re.compile(r"(?:sha|git|commit)-[0-9a-zA-Z]+")
_DATE = re.compile(r"v?(?:19|20)\d\d[._-]?(?:0[1-9]|1[0-2])(?:[._-]?(?:0[1-9]|[12]\d|3[01]))?(?:[._T-]\w*)?")
# Tags that name a moving target, never a release (DESIGN.md "Version policy": never `latest`): the one list, for
# the policy's rejections and for the rendered file's validation alike.
FLOATING = frozenset({
    "latest", "main", "master", "edge", "stable", "nightly", "dev", "develop", "devel", "unstable", "next",
    "canary", "head", "trunk", "release", "current", "lts", "beta", "alpha", "rc", "test", "testing", "prod",
})
FLOATING_REASON = "floating tag, not a version"


def is_floating(tag: str) -> bool:
    """Whether a tag names a moving target; in any case (`Latest` moves as `latest` does)."""
    return tag.lower() in FLOATING


@dataclass(frozen=True, slots=True)
class Rejection:
    tag: str
    reason: str


# A tag reads straight into its flat sort key, (major, minor, patch, prerelease key, rev, variant): flat
# tuples of ints sort fast in C, and a Version is built only for the tags that survive the policy.
Key = tuple[int, int, int, PreKey, int, str]


def sort_key(
    major: int, minor: int, patch: int, pre: tuple[PreId, ...], variant: str | None, rev: int | None
) -> Key:
    """Precedence (SemVer §11), then rev (a missing rev sorts below r0), then variant only to be total."""
    return major, minor, patch, pre_key(pre) if pre else RELEASE, -1 if rev is None else rev, variant or ""


@dataclass(frozen=True)
class Version:
    """A parsed tag; totally ordered by SemVer precedence, then rev, then variant (only to be total)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[PreId, ...] = ()
    variant: str | None = None
    rev: int | None = None
    _key: Key = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = sort_key(self.major, self.minor, self.patch, self.prerelease, self.variant, self.rev)
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_key(cls, key: Key) -> Version:
        """The Version a sort key stands for; far cheaper than __init__, and select() makes thousands."""
        major, minor, patch, pre, rev, variant = key
        ids = ids_of(pre) if pre[0] == 0 else ()
        version = object.__new__(cls)
        object.__setattr__(version, "__dict__", {
            "major": major, "minor": minor, "patch": patch, "prerelease": ids,
            "variant": variant or None, "rev": None if rev < 0 else rev, "_key": key,
        })
        return version

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __le__(self, other: Version) -> bool:
        return self._key <= other._key

    def __gt__(self, other: Version) -> bool:
        return self._key > other._key

    def __ge__(self, other: Version) -> bool:
        return self._key >= other._key

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(i) for i in self.prerelease)
        return text if self.rev is None else f"{text} r{self.rev}"


def read_core(tag: str, two_part: bool) -> Key | str:
    """Grammar only (no policy): semver `X.Y.Z`, or in two-part mode also `X` and `X.Y`; else the reason."""
    match = (TWO_PART if two_part else SEMVER).fullmatch(tag)
    if match is None:
        return why_not(tag, two_part)
    major, minor, patch, pre, _build = match.groups()
    if minor is None and len(major) >= 4:
        # `17` is a version in two-part mode, but `20240115` or `4711` is a date or a build number.
        if _DATE.fullmatch(tag):
            return "date, not a version"
        return "bare number ≥ 1000 (a date or build number), not a version"
    prerelease = pre_text_key(pre) if pre else RELEASE
    return int(major), int(minor) if minor else 0, int(patch) if patch else 0, prerelease, -1, ""


def read_pattern(tag: str, pattern: re.Pattern[str]) -> Key | str:
    """Pattern mode: the whole tag matches; `version` reads as in two-part mode (`20-alpine`), `rev` is a number."""
    match = pattern.fullmatch(tag)
    if match is None:
        return "does not match the policy pattern"
    groups = match.groupdict()
    text = groups["version"] or ""
    core = read_core(text, True)
    if isinstance(core, str):
        return f"version part {text!r}: {core}"
    rev = groups.get("rev")
    if rev is not None and not rev.isdigit():
        return f"rev {rev!r} is not a number"
    return *core[:4], -1 if rev is None else int(rev), groups.get("variant") or ""


def why_not(tag: str, two_part: bool) -> str:
    """The reason a tag failed the strict grammar; never coerces anything into a version."""
    if not tag[:1].isdigit() and not tag[1:2].isdigit():  # words: skip the numeric diagnostics below
        if _SIGNATURE.fullmatch(tag):
            return "signature/attestation tag"
        if _COMMIT.fullmatch(tag):
            return "commit tag, not a version"
        if is_floating(tag):
            return FLOATING_REASON
        return "not a version"
    if _DATE.fullmatch(tag):
        return "date, not a version"
    loose = _LOOSE.fullmatch(tag)
    if loose is None:
        return "not a version"
    numbers = [n for n in loose.groups()[:4] if n is not None]
    pre, build = loose.group(5), loose.group(6)
    if any(len(n) > 1 and n.startswith("0") for n in numbers) or any(
        len(i) > 1 and i.isdigit() and i.startswith("0") for i in (pre or "").split(".")
    ):
        return f"invalid semver: leading zero in {tag}"
    if pre is not None and not _PRE_CHARS.fullmatch(pre):
        return f"invalid semver: prerelease {pre!r} may only hold [0-9A-Za-z-] and dots"
    if pre is not None and ("" in pre.split(".")):
        return f"invalid semver: empty prerelease identifier in {tag}"
    if build is not None:
        return f"invalid semver: malformed build metadata in {tag}"
    if len(numbers) == 4:
        return "four-part version, not semver"
    if len(numbers) == 1:
        return "bare number, not a version"
    if len(numbers) == 2 and not two_part:
        return "X.Y, not X.Y.Z (mode two-part accepts X.Y tags)"
    return "not a version"
