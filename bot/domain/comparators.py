"""Comparators and ranges in compiled form: each a few lt/ge checks on a tag's flat sort key."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from bot.domain.tags import RELEASE, SemKey, pre_ids, pre_key

# Padding a bound with +inf turns <=, > and = into < and >= tests that also hold for longer keys
# (a tag's sort key is the SemKey followed by rev and variant).
_ABOVE: tuple[float] = (float("inf"),)
Check = tuple[Callable[[object, object], bool], tuple[object, ...]]
# npm refuses numbers above JavaScript's Number.MAX_SAFE_INTEGER, bounds it would compute included (`~2^53-1`).
MAX_NUMBER = 2**53 - 1


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


class TooLarge(ValueError):
    """A bound above MAX_NUMBER; the range parser names the constraint it came from."""


def comparator(op: str, major: int, minor: int, patch: int, pre: str = "") -> Comparator:
    """`op` and the bound `major.minor.patch[-pre]`; raise TooLarge where npm would refuse the number."""
    if max(major, minor, patch) > MAX_NUMBER:
        raise TooLarge(max(major, minor, patch))
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
