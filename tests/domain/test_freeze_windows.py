"""Freeze windows: ISO 8601 intervals and durations, cron starts with a duration (UTC), start-inclusive and
end-exclusive, across midnight and a week's end; bad windows refused by the part that is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.freezes import active, parse_freezes, parse_window
from bot.errors import UsageError


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


XMAS_END = at("2026-12-27T00:00Z")


@pytest.mark.parametrize("window", ["2026-12-24T00:00Z/2026-12-27T00:00Z", "2026-12-24T00:00Z/P3D",
                                    "2026-12-24T01:00+01:00/PT72H", "2026-12-24T00:00:00+00:00/P3D"])
@pytest.mark.parametrize(("t", "ends"), [
    ("2026-12-23T23:59:59Z", None),
    ("2026-12-24T00:00Z", XMAS_END),                # the start is inside
    ("2026-12-26T23:59:59Z", XMAS_END),
    ("2026-12-27T00:00Z", None),                    # the end is not
])
def test_an_interval_holds_from_its_start_up_to_its_end(window: str, t: str, ends: datetime | None) -> None:
    assert parse_window(window).ends(at(t)) == ends


WEEKEND = "cron(0 18 * * FRI)/PT62H"                 # Friday 18:00 UTC to Monday 08:00 UTC


@pytest.mark.parametrize(("t", "ends"), [
    ("2026-12-04T17:59:59Z", None),                 # Friday, just before
    ("2026-12-04T18:00Z", at("2026-12-07T08:00Z")),  # the start is inside
    ("2026-12-05T00:00Z", at("2026-12-07T08:00Z")),  # past midnight
    ("2026-12-06T23:59Z", at("2026-12-07T08:00Z")),  # Sunday night: across the week's end
    ("2026-12-07T07:59:59Z", at("2026-12-07T08:00Z")),
    ("2026-12-07T08:00Z", None),                    # the end is not
    ("2026-12-09T12:00Z", None),                    # midweek
    ("2026-12-07T09:00+01:00", None),               # 08:00 UTC, written in another zone
    ("2026-12-05T01:00+02:00", at("2026-12-07T08:00Z")),
])
def test_a_recurring_window_holds_for_its_duration_after_each_start(t: str, ends: datetime | None) -> None:
    assert parse_window(WEEKEND).ends(at(t)) == ends


def test_a_nightly_window_spans_midnight_and_overlapping_starts_lengthen_it() -> None:
    nightly = parse_window("cron(30 22 * * *)/PT8H")       # 22:30 to 06:30 UTC
    assert nightly.ends(at("2026-12-08T03:00Z")) == at("2026-12-08T06:30Z")
    assert nightly.ends(at("2026-12-07T22:29Z")) is None
    assert nightly.ends(at("2026-12-08T06:30Z")) is None
    assert parse_window("cron(0 0 * * *)/PT36H").ends(at("2026-12-08T01:00Z")) is not None
    # every day for 36 h never lets go: the end said is past every overlapping start
    long = parse_window("cron(0 0 * * *)/PT36H").ends(at("2026-12-08T01:00Z"))
    assert long is not None and long - at("2026-12-08T01:00Z") > timedelta(days=100)


def test_freezes_in_a_setting_are_named_or_numbered() -> None:
    freezes = parse_freezes(f"xmas=2026-12-24T00:00Z/P3D; {WEEKEND} ;")
    assert [f.name for f in freezes] == ["xmas", "freeze-2"]
    now = active(freezes, at("2026-12-25T19:00Z"))      # a Friday at Christmas: both
    assert [(a.freeze.name, a.ends) for a in now] == [("xmas", XMAS_END), ("freeze-2", at("2026-12-28T08:00Z"))]
    assert now[0].says() \
        == "global freeze xmas (2026-12-24T00:00Z/P3D, set in TAGPIN_FREEZE) until 2026-12-27 00:00 UTC"
    assert active(freezes, datetime(2026, 12, 9, 12, tzinfo=UTC)) == []
    assert parse_freezes("") == ()


@pytest.mark.parametrize(("window", "needle"), [
    ("", "empty"),
    ("2026-12-24T00:00/P3D", "'2026-12-24T00:00' has no timezone"),
    ("2026-12-24T00:00Z", "a window is START/END or START/DURATION"),
    ("yesterday/P3D", "'yesterday' is not an ISO 8601 date-time"),
    ("2026-12-24T00:00Z/P3X", "'P3X' is not an ISO 8601 duration"),
    ("2026-12-24T00:00Z/P1M", "years or months"),
    ("2026-12-24T00:00Z/PT0S", "longer than zero"),
    ("2026-12-27T00:00Z/2026-12-24T00:00Z", "ends (2026-12-24T00:00Z) before it starts"),
    ("cron(0 18 * *)/PT62H", "has 4 fields; it needs 5"),
    ("cron(0 25 * * FRI)/PT62H", "cron(0 25 * * FRI) is not a cron expression: Bad hour"),
    ("cron(0 18 * * FRI)/62h", "'62h' is not an ISO 8601 duration"),
    ("cron 0 18 * * FRI/PT62H", "cron(EXPR)/DURATION"),
])
def test_a_bad_window_is_refused_naming_the_bad_part(window: str, needle: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_window(window)
    assert needle in str(raised.value)


@pytest.mark.parametrize(("setting", "needle"), [
    ("Xmas=2026-12-24T00:00Z/P3D", "TAGPIN_FREEZE: invalid freeze name 'Xmas'"),
    ("a=2026-12-24T00:00Z/P3D;a=cron(0 0 * * *)/PT1H", "the name a is used twice"),
    ("a=2026-12-24/P3D", "TAGPIN_FREEZE: freeze window '2026-12-24/P3D'"),
])
def test_a_bad_setting_is_refused_naming_it(setting: str, needle: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_freezes(setting)
    assert needle in str(raised.value)
