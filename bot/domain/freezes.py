"""Freeze windows: when deploys and rollouts are refused -- ISO 8601 intervals, or a cron start (UTC) plus a duration.

Syntax (one window):
  START/END           2026-12-24T00:00Z/2026-12-27T00:00Z   (ISO 8601; a zone, Z or +01:00, is required)
  START/DURATION      2026-12-24T00:00Z/P3D                 (ISO 8601 duration: weeks, days, hours, minutes, seconds)
  cron(EXPR)/DURATION cron(0 18 * * FRI)/PT62H              (5-field cron, always UTC: every Friday 18:00 for 62 h)
A window is active at t when some start s has s <= t < s + duration (start inclusive, end exclusive)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import isodate
from cronsim import CronSim, CronSimError

from bot.errors import UsageError

_CRON = re.compile(r"cron\((?P<expr>[^()]*)\)/(?P<duration>.+)", re.IGNORECASE)
_NAME = re.compile(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?")
HINT = ("a window is START/END or START/DURATION (ISO 8601 with a zone, e.g. 2026-12-24T00:00Z/P3D) or "
        "cron(MIN HOUR DOM MON DOW)/DURATION in UTC (e.g. cron(0 18 * * FRI)/PT62H)")
MAX_REASON = 500


def _when(text: str, window: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"freeze window {window!r}: {text!r} is not an ISO 8601 date-time "
                         "(e.g. 2026-12-24T00:00Z)") from None
    if at.tzinfo is None:
        raise UsageError(f"freeze window {window!r}: {text!r} has no timezone; add Z (UTC) or an offset such as "
                         "+01:00 -- tagpin never guesses the zone")
    return at


def _duration(text: str, window: str) -> timedelta:
    try:
        length = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        raise UsageError(f"freeze window {window!r}: {text!r} is not an ISO 8601 duration "
                         "(e.g. P3D, PT62H, PT30M)") from None
    if not isinstance(length, timedelta):      # years and months have no fixed length
        raise UsageError(f"freeze window {window!r}: duration {text!r} uses years or months, which have no fixed "
                         "length; say it in weeks, days or hours (e.g. P30D)")
    if length <= timedelta(0):
        raise UsageError(f"freeze window {window!r}: duration {text!r} must be longer than zero")
    return length


@dataclass(frozen=True)
class Window:
    """One window as written (`text`), either a fixed interval or a recurring cron start with a duration."""

    text: str
    start: datetime | None = None        # an interval
    end: datetime | None = None
    cron: str | None = None              # a recurring window
    duration: timedelta | None = None

    def ends(self, t: datetime) -> datetime | None:
        """When the window holding `t` ends (UTC); None when `t` is outside it."""
        if self.cron is None:
            assert self.start is not None and self.end is not None
            return self.end if self.start <= t < self.end else None
        assert self.duration is not None
        t = t.astimezone(UTC)                 # cron fields are read in UTC
        # The latest start at or before t (cronsim steps back from just after t), if it still covers t.
        back = CronSim(self.cron, t.replace(microsecond=0) + timedelta(seconds=1), reverse=True)
        start = next((s for s in back if s <= t), None)
        if start is None or not t < start + self.duration:
            return None
        end = start + self.duration
        ahead = CronSim(self.cron, start)
        for _ in range(1000):               # starts that overlap the window lengthen it (a 48 h window daily)
            nxt = next(ahead)
            if nxt >= end:
                break
            end = nxt + self.duration
        return end

    def over(self, t: datetime) -> bool:
        """A fixed interval that ended by `t` (a recurring window never is)."""
        return self.end is not None and self.end <= t


def parse_window(text: str) -> Window:
    window = text.strip()
    if not window:
        raise UsageError(f"a freeze window is empty; {HINT}")
    m = _CRON.fullmatch(window)
    if m is not None:
        expr = " ".join(m["expr"].split())
        if len(expr.split()) != 5:
            raise UsageError(f"freeze window {window!r}: cron({m['expr']}) has {len(expr.split())} fields; it "
                             "needs 5 (minute hour day-of-month month day-of-week, UTC)")
        try:
            CronSim(expr, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise UsageError(f"freeze window {window!r}: cron({expr}) is not a cron expression: {exc}") from None
        return Window(window, cron=expr, duration=_duration(m["duration"].strip(), window))
    if window.lower().startswith("cron"):
        raise UsageError(f"freeze window {window!r}: write a recurring window as cron(EXPR)/DURATION, "
                         "e.g. cron(0 18 * * FRI)/PT62H")
    first, sep, second = window.partition("/")
    if not sep or not first.strip() or not second.strip():
        raise UsageError(f"freeze window {window!r}: {HINT}")
    start = _when(first.strip(), window)
    if second.strip().upper().startswith("P"):
        end = start + _duration(second.strip(), window)
    else:
        end = _when(second.strip(), window)
        if end <= start:
            raise UsageError(f"freeze window {window!r}: it ends ({second.strip()}) before it starts "
                             f"({first.strip()})")
    return Window(window, start=start, end=end)


def freeze_name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise UsageError(f"invalid freeze name {text!r}: 1-63 lowercase letters, digits, '.', '_' or '-', starting "
                         "and ending with a letter or digit")
    return text


def freeze_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise UsageError("a freeze needs --reason: whoever is refused by it must know why")
    if len(reason) > MAX_REASON:
        raise UsageError(f"--reason is {len(reason)} characters; at most {MAX_REASON}")
    return reason


@dataclass(frozen=True)
class Freeze:
    """A named window: global (TAGPIN_FREEZE, tenant None) or one tenant's (tagpin freeze)."""

    name: str
    window: Window
    tenant: str | None = None
    reason: str = ""
    by: str = "TAGPIN_FREEZE"
    at: datetime | None = None

    def says(self) -> str:
        scope = "global freeze" if self.tenant is None else f"{self.tenant}'s freeze"
        who = "set in TAGPIN_FREEZE" if self.tenant is None else f"set by {self.by}: {self.reason}"
        return f"{scope} {self.name} ({self.window.text}, {who})"


@dataclass(frozen=True)
class Active:
    """A freeze that holds now, and when it ends."""

    freeze: Freeze
    ends: datetime

    def says(self) -> str:
        return f"{self.freeze.says()} until {self.ends.strftime('%Y-%m-%d %H:%M UTC')}"


def parse_freezes(setting: str, name: str = "TAGPIN_FREEZE") -> tuple[Freeze, ...]:
    """`[NAME=]WINDOW;…`; an unnamed window is called freeze-N by its position."""
    out: list[Freeze] = []
    for number, item in enumerate((part.strip() for part in setting.split(";")), 1):
        if not item:
            continue
        label, sep, window = item.partition("=")
        if not sep:
            label, window = f"freeze-{number}", item
        try:
            freeze = Freeze(freeze_name(label.strip()), parse_window(window))
        except UsageError as exc:
            raise UsageError(f"{name}: {exc}") from None
        if any(f.name == freeze.name for f in out):
            raise UsageError(f"{name}: the name {freeze.name} is used twice")
        out.append(freeze)
    return tuple(out)


def active(freezes: Iterable[Freeze], t: datetime) -> list[Active]:
    """The freezes that hold at `t`, in the order given."""
    out = []
    for f in freezes:
        ends = f.window.ends(t)
        if ends is not None:
            out.append(Active(f, ends))
    return out


OVERRIDE_HINT = "to deploy anyway, add --override-freeze --reason TEXT (audited)"
