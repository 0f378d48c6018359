"""Version policy: which tags are candidates, ranked best first, and why every other tag is not."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Literal, cast, get_args

from bot.domain.ages import parse_age
from bot.domain.ranges import Range, parse_range
from bot.domain.tags import RELEASE, Key, Rejection, Version, read_core, read_pattern
from bot.errors import PolicyError

__all__ = [
    "KNOWN_POLICY_KEYS", "Candidate", "Mode", "Policy", "Rejection", "Selection", "Version",
    "is_major_jump", "parse_tag", "select",
]

Mode = Literal["semver", "two-part", "pattern"]
_MODES: tuple[str, ...] = get_args(Mode)
KNOWN_POLICY_KEYS: frozenset[str] = frozenset({"mode", "constraint", "prerelease", "pattern", "min_age"})
_GROUPS = frozenset({"version", "variant", "rev"})


@dataclass(frozen=True)
class Policy:
    """One service's policy (an `x-tagpin` block); validated and compiled once, at construction.

    Decisions: ranges follow npm, and `prerelease: true` is npm's includePrerelease (`<2` excludes
    2.0.0-rc.1, `<2.0.0` admits it); pattern mode matches the whole tag; spellings of one version are
    aliases, the preferred tag being the most specific, then the one without `v`.
    """

    mode: Mode = "semver"
    constraint: str | None = None
    prerelease: bool = False
    pattern: str | None = None
    held: str | None = None        # a tenant's hold (`tagpin hold`): a second range every candidate must be in
    min_age: str | None = None     # "2h": releases younger than this are passed over (bot.domain.ages)
    _range: Range | None = field(default=None, init=False, repr=False, compare=False)
    _held: Range | None = field(default=None, init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _min_age: float | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise PolicyError(f"unknown mode {self.mode!r} (expected one of: {', '.join(_MODES)})")
        if not isinstance(self.prerelease, bool):
            raise PolicyError(f"prerelease must be true or false, not {self.prerelease!r}")
        if self.constraint is not None:
            if not isinstance(self.constraint, str):
                # YAML reads `constraint: 1.10` as the float 1.1; refuse rather than guess.
                raise PolicyError(f"constraint must be a string; quote it in YAML: '{self.constraint}'")
            object.__setattr__(self, "_range", parse_range(self.constraint, self.prerelease))
        if self.held is not None:
            object.__setattr__(self, "_held", parse_range(self.held, self.prerelease))
        if self.min_age is not None:
            object.__setattr__(self, "_min_age", parse_age(self.min_age))
        if self.mode == "pattern":
            object.__setattr__(self, "_regex", _compile(self.pattern))
        elif self.pattern is not None:
            raise PolicyError(f"pattern is only used with mode: pattern (mode is {self.mode})")

    def holds_back(self, version: Version) -> bool:
        """Whether the tenant's hold keeps `version` out (an explicit tag too: a hold is lifted, not overridden)."""
        return self._held is not None and not self._held.test(version._key)

    @property
    def min_age_seconds(self) -> float | None:
        return self._min_age

    @property
    def range(self) -> Range | None:
        """The constraint desugared to comparators (npm semantics), or None when there is none."""
        return self._range

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Policy:
        """An `x-tagpin` block; an unknown key is refused by name, as it is almost always a typo."""
        unknown = sorted(set(data) - KNOWN_POLICY_KEYS)
        if unknown:
            known = ", ".join(sorted(KNOWN_POLICY_KEYS))
            raise PolicyError(f"unknown x-tagpin key {', '.join(map(repr, unknown))} (known: {known})")
        for key in ("mode", "pattern", "min_age"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise PolicyError(f"{key} must be a string, not {data[key]!r}")
        return cls(
            mode=cast(Mode, data.get("mode", "semver")),
            constraint=cast("str | None", data.get("constraint")),
            prerelease=cast(bool, data.get("prerelease", False)),
            pattern=cast("str | None", data.get("pattern")),
            min_age=cast("str | None", data.get("min_age")),
        )


def _compile(pattern: str | None) -> re.Pattern[str]:
    if not pattern:
        example = r"^(?P<version>\d+\.\d+\.\d+)-(?P<variant>slim)$"
        raise PolicyError(f"mode pattern needs a pattern, e.g. {example!r}")
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise PolicyError(f"pattern {pattern!r} is not a valid regular expression: {error}") from None
    if "version" not in regex.groupindex:
        raise PolicyError(f"pattern {pattern!r} has no named group (?P<version>...)")
    stray = sorted(set(regex.groupindex) - _GROUPS)
    if stray:
        names = ", ".join(stray)
        raise PolicyError(f"pattern {pattern!r}: unknown group {names} (use version, variant, rev)")
    return regex


def parse_tag(tag: str, policy: Policy) -> Version | Rejection:
    """Grammar and prerelease opt-in; constraint, variant and downgrade floor are `select`'s job."""
    key = _read(tag, policy)
    if isinstance(key, str):
        return Rejection(tag, key)
    if key[3] != RELEASE and not policy.prerelease:
        return Rejection(tag, _NO_PRERELEASE)
    return Version.from_key(key)


_NO_PRERELEASE = "prerelease (policy does not opt in)"


def _reader(policy: Policy) -> Callable[[str], Key | str]:
    if policy._regex is not None:
        return partial(read_pattern, pattern=policy._regex)
    return partial(read_core, two_part=policy.mode == "two-part")


def _read(tag: str, policy: Policy) -> Key | str:
    return _reader(policy)(tag)


@dataclass(frozen=True)
class Candidate:
    tag: str
    aliases: tuple[str, ...]  # other spellings of the same version; the caller checks they share a digest
    version: Version


@dataclass(frozen=True)
class Selection:
    """Ranked candidates and every rejection; Candidate objects are built on first use, best first, because a
    resolve usually needs only the first one or two of thousands (the full list is for explaining)."""

    ranked: tuple[tuple[Key, tuple[str, ...]], ...]  # (sort key, spellings), best first
    rejected: tuple[Rejection, ...]  # in input order
    current: Version | None
    current_note: str | None = None  # set when a running tag was given but could not be read

    def iter_candidates(self) -> Iterator[Candidate]:
        """Best first, each built when reached."""
        for key, tags in self.ranked:
            yield _candidate(key, tags)

    @cached_property
    def candidates(self) -> tuple[Candidate, ...]:
        return tuple(self.iter_candidates())

    @property
    def best(self) -> Candidate | None:
        return next(self.iter_candidates(), None)


def select(
    tags: Iterable[str], policy: Policy, current: str | None = None, allow_downgrade: bool = False
) -> Selection:
    """Rank every tag that passes the policy; give every other tag its reason."""
    # Works on plain tuples per tag and builds Version objects only for the survivors: registries
    # routinely hold thousands of tags (see bench/bench_policy.py).
    running, note = _running(current, policy)
    # A key longer than the floor but equal on it is not below it, so no slicing per tag.
    floor = None if allow_downgrade or running is None else running._key[:5]
    variant = running.variant or "" if running is not None and policy.mode == "pattern" else None
    test = policy._range.test if policy._range is not None else None
    hold = policy._held.test if policy._held is not None else None
    outside, below = _outside(policy), f"below the running version {running}"
    outside_hold = f"held: outside {policy.held} for this tenant (tagpin hold)"
    read = _reader(policy)
    groups: dict[Key, list[str]] = {}
    rejected: list[Rejection] = []
    for tag in dict.fromkeys(tags):  # drops repeats, keeps input order
        key = read(tag)
        if isinstance(key, str):
            rejected.append(Rejection(tag, key))
            continue
        if key[3] != RELEASE and not policy.prerelease:
            reason = _NO_PRERELEASE
        elif variant is not None and key[5] != variant:
            reason = f"variant {key[5] or '(none)'} ≠ running variant {variant or '(none)'}"
        elif test is not None and not test(key):
            reason = outside
        elif hold is not None and not hold(key):
            reason = outside_hold
        elif floor is not None and key < floor:
            reason = below
        else:
            if key in groups:
                groups[key].append(tag)
            else:
                groups[key] = [tag]
            continue
        rejected.append(Rejection(tag, reason))
    ranked = tuple((key, tuple(groups[key])) for key in sorted(groups, reverse=True))
    return Selection(ranked, tuple(rejected), running, note)


def _running(current: str | None, policy: Policy) -> tuple[Version | None, str | None]:
    if current is None:
        return None, None
    # The running tag may be a prerelease even when candidates may not: it still sets the floor.
    key = _read(current, policy)
    if isinstance(key, str):
        note = f"running tag {current} is not a version under this policy ({key})"
        return None, note + "; no downgrade floor or variant check applied"
    return Version.from_key(key), None


def _outside(policy: Policy) -> str:
    if policy._range is None:
        return ""
    shown = str(policy._range)
    extra = "" if shown == policy.constraint else f" ({shown})"
    return f"outside constraint {policy.constraint}{extra}"


def _preference(tag: str) -> tuple[int, bool, str]:
    # Most specific spelling first (`17.0` over `17`), then without `v` (`1.2.3` over `v1.2.3`).
    core = tag[1:] if tag.startswith("v") else tag
    return (-core.split("-", 1)[0].split("+", 1)[0].count("."), tag.startswith("v"), tag)


def _candidate(key: Key, tags: tuple[str, ...]) -> Candidate:
    version = Version.from_key(key)
    if len(tags) == 1:
        return Candidate(tags[0], (), version)
    ordered = sorted(tags, key=_preference)
    return Candidate(ordered[0], tuple(ordered[1:]), version)


def is_major_jump(current: Version, target: Version) -> bool:
    """A change of the leftmost non-zero part, where SemVer allows breaking changes (§4, §8).

    Below 1.0.0 the minor is the breaking part, and in 0.0.z every patch is: npm's caret draws the same
    lines (`^0.2.3` is `<0.3.0-0`, `^0.0.3` is `<0.0.4-0`).
    """
    if current.major != target.major:
        return True
    if current.major != 0:
        return False
    return current.minor != target.minor or (current.minor == 0 and current.patch != target.patch)
