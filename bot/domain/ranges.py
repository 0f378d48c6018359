"""npm-style ranges (`^1.4`, `~1.4`, `1.4.x`, `>=1.2 <2`, `a || b`, `1.2 - 1.4`) desugared to comparators."""

from __future__ import annotations

import re
from itertools import pairwise

from bot.domain.comparators import MAX_NUMBER, Comparator, Range, TooLarge, comparator
from bot.domain.tags import BUILD, PRE
from bot.errors import PolicyError

__all__ = ["Comparator", "Range", "parse_range"]

_NUM = r"0|[1-9]\d*"
_XR = rf"(?:{_NUM}|[xX*])"
# Build metadata never matters to precedence, so npm ignores it after any part (`1.x+build`).
_PARTIAL = rf"v?(?P<M>{_XR})(?:\.(?P<m>{_XR})(?:\.(?P<p>{_XR})(?:-(?P<pr>{PRE}))?)?)?(?:\+{BUILD})?"
_COMPARATOR = re.compile(rf"(?P<op><=|>=|<|>|=|\^|~>?)?{_PARTIAL}")
_PARTIAL_ONLY = re.compile(_PARTIAL)
_HYPHEN = re.compile(r"(?P<a>\S+)\s+-\s+(?P<b>\S+)")
_OP_SPACE = re.compile(r"(<=|>=|<|>|=|\^|~>?)\s+")
_OPS = frozenset({"<", "<=", ">", ">=", "="})
def parse_range(text: str, include_prerelease: bool = False) -> Range:
    """Desugar like npm's range.js; `include_prerelease` is npm's includePrerelease (lower bounds get -0)."""
    if not text.strip():
        raise PolicyError("constraint is empty; omit it to allow every version")
    alternatives = []
    for alt in text.split("||"):
        if not alt.strip():
            raise PolicyError(f"constraint {text!r}: empty alternative around '||'")
        try:
            alternatives.append(tuple(_parse_alternative(text, alt.strip(), include_prerelease)))
        except TooLarge as exc:
            raise PolicyError(f"constraint {text!r}: {exc} is larger than a version number may be "
                              f"({MAX_NUMBER}, as in npm)") from None
    return Range(tuple(alternatives))


Parts = tuple[int | None, int | None, int | None, str]


def _parts(whole: str, match: re.Match[str]) -> Parts:
    def num(name: str) -> int | None:
        value = match.group(name)
        return None if value is None or value in "xX*" else int(value)

    major, minor, patch, pre = num("M"), num("m"), num("p"), match.group("pr") or ""
    # npm refuses `1.x.5` and `x.1` but reads `~1.x.5` as `~1.x`: refused everywhere, as it says more
    # than it means.
    texts = [text for text in (match.group("M"), match.group("m"), match.group("p")) if text is not None]
    if any(a in "xX*" and b not in "xX*" for a, b in pairwise(texts)):
        raise PolicyError(f"constraint {whole!r}: {match.group(0)!r} has a number after a wildcard "
                          "(npm refuses 1.x.5 and ignores the 5 in ~1.x.5); write e.g. 1.x, or >=1.0.5 <2.0.0")
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
        return [comparator("<", 0, 0, 0, "0")] if op in ("<", ">") else []
    # npm 7.7+: a partial lower bound (`~1.4`, `^1.4`, `1.4.x`) starts at -0, a full one (`~1.4.2`,
    # `^0.2.3`, `^1.2.3`) at the release itself, so `~1.4` and `1.4.x` are one range.
    low_pre = pre or (z if patch is None else "")
    if op in ("~", "~>"):
        if minor is None:
            return [comparator(">=", major, 0, 0, z), comparator("<", major + 1, 0, 0, "0")]
        return [comparator(">=", major, minor, patch or 0, low_pre), comparator("<", major, minor + 1, 0, "0")]
    if op == "^":
        if minor is None:
            return [comparator(">=", major, 0, 0, z), comparator("<", major + 1, 0, 0, "0")]
        if major > 0:
            high = comparator("<", major + 1, 0, 0, "0")
        elif minor > 0 or patch is None:
            high = comparator("<", 0, minor + 1, 0, "0")
        else:
            high = comparator("<", 0, 0, patch + 1, "0")
        return [comparator(">=", major, minor, patch or 0, low_pre), high]
    if patch is not None and minor is not None:
        return [comparator(op or "=", major, minor, patch, pre)]
    if op in ("", "="):
        if minor is None:
            return [comparator(">=", major, 0, 0, z), comparator("<", major + 1, 0, 0, "0")]
        return [comparator(">=", major, minor, 0, z), comparator("<", major, minor + 1, 0, "0")]
    low_minor = minor or 0
    if op == ">":  # >1 is >=2.0.0, >1.2 is >=1.3.0
        op, major, low_minor = (">=", major + 1, 0) if minor is None else (">=", major, low_minor + 1)
    elif op == "<=":  # <=1.2 admits every 1.2.x, so it is <1.3.0
        op, major, low_minor = ("<", major + 1, 0) if minor is None else ("<", major, low_minor + 1)
    return [comparator(op, major, low_minor, 0, "0" if op == "<" else z)]


def _hyphen(low: Parts, high: Parts, inc: bool) -> list[Comparator]:
    """`A - B` is inclusive on both ends; a partial B admits all of it (`1.2 - 1.4` is <1.5.0-0)."""
    z = "0" if inc else ""
    result: list[Comparator] = []
    major, minor, patch, pre = low
    if major is not None:
        result.append(comparator(">=", major, minor or 0, patch or 0, pre or z))
    major, minor, patch, pre = high
    if major is None:
        return result
    if minor is None:
        result.append(comparator("<", major + 1, 0, 0, "0"))
    elif patch is None:
        result.append(comparator("<", major, minor + 1, 0, "0"))
    elif pre:
        result.append(comparator("<=", major, minor, patch, pre))
    elif inc:
        result.append(comparator("<", major, minor, patch + 1, "0"))
    else:
        result.append(comparator("<=", major, minor, patch))
    return result
