"""A release's age, for `x-tagpin: {min_age: 2h}`: how long ago it was built (its image config's `created`) and
how long ago tagpin first saw its digest -- the later of the two counts, so an image whose `created` is old or made
up (a reproducible build says 1970) is still only as old as tagpin has known it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import PolicyError

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_AGE = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")


def parse_age(text: object) -> float:
    """'2h', '30m', '1d', '1h30m', '90s' -> seconds; anything else is refused, naming the form it expects."""
    if not isinstance(text, str) or not text or (m := _AGE.fullmatch(text.strip())) is None or not text.strip():
        raise PolicyError(f"min_age must be a duration such as 2h, 30m, 1d or 1h30m, not {text!r}")
    seconds = sum(int(m[unit]) * size for unit, size in _UNITS.items() if m[unit])
    if seconds <= 0:
        raise PolicyError(f"min_age must be longer than nothing, not {text!r}")
    return float(seconds)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds < 172800 else f"{seconds // 86400} days"


@dataclass(frozen=True)
class Age:
    first_seen: datetime                  # when tagpin first saw this digest
    created: datetime | None = None       # the image config's `created`, when it has one

    @property
    def since(self) -> datetime:
        return max(self.first_seen, self.created) if self.created is not None else self.first_seen

    @property
    def which(self) -> str:
        """What the age counts from: whichever of the two is later."""
        return "built" if self.created is not None and self.created > self.first_seen else "first seen by tagpin"

    def too_young(self, min_age: float, spec: str, now: datetime) -> str | None:
        """The reason a release younger than min_age is passed over, or None when it is old enough."""
        age = (now - self.since).total_seconds()
        if age >= min_age:
            return None
        built = f"built {_ago((now - self.created).total_seconds())} ago" if self.created else "no build time"
        seen = f"first seen by tagpin {_ago((now - self.first_seen).total_seconds())} ago"
        ready = datetime.fromtimestamp(self.since.timestamp() + min_age, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"too young: {built}, {seen} (min_age {spec}: {self.which} counts; old enough at {ready})"
