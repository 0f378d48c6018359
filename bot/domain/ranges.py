"""npm-style ranges (`^1.4`, `~1.4`, `1.4.x`, `>=1.2 <2`, `a || b`, `1.2 - 1.4`) desugared to comparators."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from bot.domain.tags import BUILD, PRE, RELEASE, SemKey, pre_ids, pre_key
from bot.errors import PolicyError

_NUM = r"0|[1-9]\d*"
_XR = rf"(?:{_NUM}|[xX*])"
_PARTIAL = rf"v?(?P<M>{_XR})(?:\.(?P<m>{_XR})(?:\.(?P<p>{_XR})(?:-(?P<pr>{PRE}))?(?:\+{BUILD})?)?)?"
_COMPARATOR = re.compile(rf"(?P<op><=|>=|<|>|=|\^|~>?)?{_PARTIAL}")
_PARTIAL_ONLY = re.compile(_PARTIAL)
_HYPHEN = re.compile(r"(?P<a>\S+)\s+-\s+(?P<b>\S+)")
_OP_SPACE = re.compile(r"(<=|>=|<|>|=|\^|~>?)\s+")
_OPS = frozenset({"<", "<=", ">", ">=", "="})
# Padding a bound with +inf turns <=, > and = into < and >= tests that also hold for longer keys
# (a tag's sort key is the SemKey followed by rev and variant).
_ABOVE: tuple[float] = (float("inf"),)
Check = tuple[Callable[[object, object], bool], tuple[object, ...]]


def _checks(c: Comparator) -> list[Check]:
    lt, ge = cast(Callable[[object, object], bool], operator.lt), cast(Callable[[object, object], bool], operator.ge)
    if c.op == "<":
        return [(lt, c.key)]
    if c.op == ">=":
        return [(ge, c.key)]
    if c.op == "<=":
        return [(lt, c.key + _ABOVE)]
    if c.op == ">":
        return [(ge, c.key + _ABOVE)]
    return [(ge, c.key), (lt, c.key + _ABOVE)]


@dataclass(frozen=True, slots=True)
class Comparator:
    op: str
    key: SemKey
    text: str


def _c(op: str, major: int, minor: int, patch: int, pre: str = "") -> Comparator:
    key = (major, minor, patch, pre_key(pre_ids(pre)) if pre else RELEASE)
    return Comparator(op, key, f"{op}{major}.{minor}.{patch}" + (f"-{pre}" if pre else ""))


@dataclass(frozen=True, slots=True)
class Range:
    """Alternatives (`||`), each a conjunction of comparators; an empty conjunction admits everything."""

    alternatives: tuple[tuple[Comparator, ...], ...]
    _checks: tuple[tuple[Check, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Resolved once: test() runs for every tag of a registry, so no lookups or generators there.
        checks = tuple(tuple(check for c in alt for check in _checks(c)) for alt in self.alternatives)
        object.__setattr__(self, "_checks", checks)

    def test(self, key: tuple[object, ...]) -> bool:
        """Whether a SemKey, or any key that starts with one, lies in the range."""
        for alt in self._checks:
            for check, bound in alt:
                if not check(key, bound):
                    break
            else:
                return True
        return False

    def __str__(self) -> str:
        return " || ".join(" ".join(c.text for c in alt) or "*" for alt in self.alternatives)


def parse_range(text: str, include_prerelease: bool = False) -> Range:
    """Desugar like npm's range.js; `include_prerelease` is npm's includePrerelease (lower bounds get -0)."""
    if not text.strip():
        raise PolicyError("constraint is empty; omit it to allow every version")
    alternatives = []
    for alt in text.split("||"):
        if not alt.strip():
            raise PolicyError(f"constraint {text!r}: empty alternative around '||'")
        alternatives.append(tuple(_parse_alternative(text, alt.strip(), include_prerelease)))
    return Range(tuple(alternatives))


Parts = tuple[int | None, int | None, int | None, str]


def _parts(whole: str, match: re.Match[str]) -> Parts:
    def num(name: str) -> int | None:
        value = match.group(name)
        return None if value is None or value in "xX*" else int(value)

    major, minor, patch, pre = num("M"), num("m"), num("p"), match.group("pr") or ""
    # npm: once a part is a wildcard, everything after it is too (`1.x.3` reads as `1.x`).
    if major is None:
        minor = None
    if minor is None:
        patch = None
    if patch is None and pre:
        raise PolicyError(f"constraint {whole!r}: a prerelease needs a full X.Y.Z version, not a wildcard")
    return major, minor, patch, pre


def _unreadable(whole: str, token: str) -> PolicyError:
    if re.search(r"(?<!\d)0\d", token):
        return PolicyError(f"constraint {whole!r}: {token!r} has a leading zero")
    if token in _OPS or token in ("^", "~", "~>"):
        return PolicyError(f"constraint {whole!r}: operator {token!r} without a version")
    return PolicyError(
        f"constraint {whole!r}: cannot read {token!r} "
        "(expected e.g. >=1.2, <2, ^1.4, ~1.4, 1.4.x or 1.2 - 1.4)"
    )


def _parse_alternative(whole: str, alt: str, inc: bool) -> list[Comparator]:
    hyphen = _HYPHEN.fullmatch(alt)
    if hyphen:
        sides = [_PARTIAL_ONLY.fullmatch(hyphen.group(n)) for n in ("a", "b")]
        for name, side in zip(("a", "b"), sides, strict=True):
            if side is None:
                raise _unreadable(whole, hyphen.group(name))
        low, high = (_parts(whole, side) for side in sides if side is not None)
        return _hyphen(low, high, inc)
    result: list[Comparator] = []
    for token in _OP_SPACE.sub(r"\1", alt).split():
        match = _COMPARATOR.fullmatch(token)
        if match is None:
            raise _unreadable(whole, token)
        result.extend(_desugar(match.group("op") or "", _parts(whole, match), inc))
    return result


def _desugar(op: str, parts: Parts, inc: bool) -> list[Comparator]:
    """One comparator token → plain comparators, following npm's replaceCaret/Tilde/XRange."""
    major, minor, patch, pre = parts
    z = "0" if inc else ""  # npm: with includePrerelease a lower bound starts at the lowest prerelease
    if major is None:
        return [_c("<", 0, 0, 0, "0")] if op in ("<", ">") else []
    if op in ("~", "~>"):
        if minor is None:
            return [_c(">=", major, 0, 0), _c("<", major + 1, 0, 0, "0")]
        return [_c(">=", major, minor, patch or 0, pre), _c("<", major, minor + 1, 0, "0")]
    if op == "^":
        if minor is None:
            return [_c(">=", major, 0, 0, z), _c("<", major + 1, 0, 0, "0")]
        if major > 0:
            high = _c("<", major + 1, 0, 0, "0")
        elif minor > 0 or patch is None:
            high = _c("<", 0, minor + 1, 0, "0")
        else:
            high = _c("<", 0, 0, patch + 1, "0")
        low_pre = pre or (z if major == 0 or patch is None else "")
        return [_c(">=", major, minor, patch or 0, low_pre), high]
    if patch is not None and minor is not None:
        return [_c(op or "=", major, minor, patch, pre)]
    if op in ("", "="):
        if minor is None:
            return [_c(">=", major, 0, 0, z), _c("<", major + 1, 0, 0, "0")]
        return [_c(">=", major, minor, 0, z), _c("<", major, minor + 1, 0, "0")]
    low_minor = minor or 0
    if op == ">":  # >1 is >=2.0.0, >1.2 is >=1.3.0
        op, major, low_minor = (">=", major + 1, 0) if minor is None else (">=", major, low_minor + 1)
    elif op == "<=":  # <=1.2 admits every 1.2.x, so it is <1.3.0
        op, major, low_minor = ("<", major + 1, 0) if minor is None else ("<", major, low_minor + 1)
    return [_c(op, major, low_minor, 0, "0" if op == "<" else z)]


def _hyphen(low: Parts, high: Parts, inc: bool) -> list[Comparator]:
    """`A - B` is inclusive on both ends; a partial B admits all of it (`1.2 - 1.4` is <1.5.0-0)."""
    z = "0" if inc else ""
    result: list[Comparator] = []
    major, minor, patch, pre = low
    if major is not None:
        result.append(_c(">=", major, minor or 0, patch or 0, pre or z))
    major, minor, patch, pre = high
    if major is None:
        return result
    if minor is None:
        result.append(_c("<", major + 1, 0, 0, "0"))
    elif patch is None:
        result.append(_c("<", major, minor + 1, 0, "0"))
    elif pre:
        result.append(_c("<=", major, minor, patch, pre))
    elif inc:
        result.append(_c("<", major, minor, patch + 1, "0"))
    else:
        result.append(_c("<=", major, minor, patch))
    return result
