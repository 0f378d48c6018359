"""min_age: the duration syntax, and which of build time and first sighting counts (the later)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.ages import Age, parse_age
from bot.domain.stacks import policy_label
from bot.domain.versions import Policy
from bot.errors import PolicyError

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("30m", 1800), ("1d", 86400), ("1h30m", 5400),
                                                ("90s", 90), ("1d2h3m4s", 93784), (" 2h ", 7200)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("bad", ["", "2", "2x", "h", "2h 30m", "-1h", "1.5h", "0h", "0s", "P1D", 2, None, "2H"])
def test_bad_durations_are_refused_naming_the_form(bad: object) -> None:
    with pytest.raises(PolicyError, match=r"min_age must be"):
        parse_age(bad)


def test_the_later_of_build_and_first_sighting_counts() -> None:
    old_build_new_sighting = Age(first_seen=NOW - timedelta(minutes=10), created=NOW - timedelta(days=30))
    assert old_build_new_sighting.which == "first seen by tagpin"
    why = old_build_new_sighting.too_young(7200, "2h", NOW)
    assert why == ("too young: built 30 days ago, first seen by tagpin 10 min ago (min_age 2h: first seen by "
                   "tagpin counts; old enough at 2026-12-07 13:50 UTC)")
    new_build = Age(first_seen=NOW - timedelta(hours=5), created=NOW - timedelta(minutes=30))
    assert new_build.which == "built"
    assert "built 30 min ago" in str(new_build.too_young(7200, "2h", NOW))
    unsaid = Age(first_seen=NOW - timedelta(hours=1))                 # no build time: the sighting alone
    assert unsaid.which == "first seen by tagpin" and "no build time" in str(unsaid.too_young(7200, "2h", NOW))


def test_old_enough_exactly_at_min_age() -> None:
    age = Age(first_seen=NOW - timedelta(hours=2), created=NOW - timedelta(hours=3))
    assert age.too_young(7200, "2h", NOW) is None
    assert age.too_young(7200, "2h", NOW - timedelta(seconds=1)) is not None


def test_a_policy_checks_min_age_and_labels_it_only_when_set() -> None:
    assert Policy.from_mapping({"min_age": "2h"}).min_age_seconds == 7200
    assert '"min_age":"2h"' in policy_label(Policy(min_age="2h"))
    assert "min_age" not in policy_label(Policy())                     # existing services' labels unchanged
    with pytest.raises(PolicyError, match="min_age must be a string"):
        Policy.from_mapping({"min_age": 2})
    with pytest.raises(PolicyError, match="min_age must be a duration"):
        Policy(min_age="soon")
