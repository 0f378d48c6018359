"""Tag grammar: read one registry tag as a Version, or say precisely why it is not one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.ranges import BUILD, PRE, RELEASE, PreId, SemKey, pre_ids, pre_key

# semver.org's own regex (§2, §9, §10: no leading zeros), optionally `v`-prefixed; two-part mode makes
# minor and patch optional so `17`, `17.0` and `17.0.0` all read.
_NUM = r"0|[1-9]\d*"
_TAIL = rf"(?:-(?P<pre>{PRE}))?(?:\+(?P<build>{BUILD}))?"
SEMVER = re.compile(rf"v?(?P<M>{_NUM})\.(?P<m>{_NUM})\.(?P<p>{_NUM}){_TAIL}")
TWO_PART = re.compile(rf"v?(?P<M>{_NUM})(?:\.(?P<m>{_NUM})(?:\.(?P<p>{_NUM}))?)?{_TAIL}")
# Loose shapes, only consulted for tags that failed the strict grammar, to name the defect.
_LOOSE = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([^+]*))?(?:\+(.*))?")
_PRE_CHARS = re.compile(r"[0-9A-Za-z.-]*")
_SIGNATURE = re.compile(r"sha256-[0-9a-f]{64}\.(?:sig|att|sbom)")
_COMMIT = re.compile(r"(?:sha|git|commit)-[0-9a-zA-Z]+")
_DATE = re.compile(r"v?(?:19|20)\d\d[._-]?(?:0[1-9]|1[0-2])(?:[._-]?(?:0[1-9]|[12]\d|3[01]))?(?:[._T-]\w*)?")
_FLOATING = frozenset({
    "latest", "main", "master", "edge", "stable", "nightly", "dev", "develop", "devel", "unstable", "next",
    "canary", "head", "trunk", "release", "current", "lts", "beta", "alpha", "rc", "test", "testing",
})


@dataclass(frozen=True, slots=True)
class Rejection:
    tag: str
    reason: str


@dataclass(frozen=True, slots=True)
class Version:
    """A parsed tag; totally ordered by SemVer precedence, then rev, then variant (only to be total)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[PreId, ...] = ()
    variant: str | None = None
    rev: int | None = None
    semkey: SemKey = field(init=False, repr=False, compare=False)
    _key: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pre = pre_key(self.prerelease) if self.prerelease else RELEASE
        semkey = (self.major, self.minor, self.patch, pre)
        object.__setattr__(self, "semkey", semkey)
        # A missing rev sorts below r0 so `1.2.3-slim-r1` beats `1.2.3-slim`.
        rev = -1 if self.rev is None else self.rev
        object.__setattr__(self, "_key", (semkey, rev, self.variant or ""))

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __le__(self, other: Version) -> bool:
        return self._key <= other._key

    def __gt__(self, other: Version) -> bool:
        return self._key > other._key

    def __ge__(self, other: Version) -> bool:
        return self._key >= other._key

    def below(self, other: Version) -> bool:
        """Lower in precedence and rev, whatever the variants."""
        return self._key[:2] < other._key[:2]

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(i) for i in self.prerelease)
        return text if self.rev is None else f"{text} r{self.rev}"


def _version(match: re.Match[str], variant: str | None = None, rev: int | None = None) -> Version:
    minor, patch, pre = match.group("m"), match.group("p"), match.group("pre")
    return Version(
        int(match.group("M")), int(minor or 0), int(patch or 0), pre_ids(pre) if pre else (), variant, rev
    )


def parse_core(tag: str, two_part: bool) -> Version | Rejection:
    """Grammar only (no policy): semver `X.Y.Z`, or in two-part mode also `X` and `X.Y`."""
    match = (TWO_PART if two_part else SEMVER).fullmatch(tag)
    if match is None:
        return Rejection(tag, why_not(tag, two_part))
    if two_part and match.group("m") is None and len(match.group("M")) >= 4:
        # `17` is a version in two-part mode, but `20240115` or `4711` is a date or a build number.
        if _DATE.fullmatch(tag):
            return Rejection(tag, "date, not a version")
        return Rejection(tag, "bare number ≥ 1000 (a date or build number), not a version")
    return _version(match)


def parse_pattern(tag: str, pattern: re.Pattern[str]) -> Version | Rejection:
    """Pattern mode: the whole tag must match; `version` is semver, `rev` an integer, `variant` kept."""
    match = pattern.fullmatch(tag)
    if match is None:
        return Rejection(tag, "does not match the policy pattern")
    groups = match.groupdict()
    text = groups["version"] or ""
    core = SEMVER.fullmatch(text)
    if core is None:
        return Rejection(tag, f"version part {text!r}: {why_not(text, False)}")
    rev_text = groups.get("rev")
    if rev_text is not None and not rev_text.isdigit():
        return Rejection(tag, f"rev {rev_text!r} is not a number")
    return _version(core, groups.get("variant"), None if rev_text is None else int(rev_text))


def why_not(tag: str, two_part: bool) -> str:
    """The reason a tag failed the strict grammar; never coerces anything into a version."""
    if _SIGNATURE.fullmatch(tag):
        return "signature/attestation tag"
    if _COMMIT.fullmatch(tag):
        return "commit tag, not a version"
    if tag.lower() in _FLOATING:
        return "floating tag, not a version"
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
