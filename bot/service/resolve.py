"""Resolve one repository to the highest tag its policy allows, and that tag's digest -- explained."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain.ages import Age
from bot.domain.references import ImageRef
from bot.domain.times import utcnow
from bot.domain.versions import Candidate, Policy, Rejection, Selection, select
from bot.errors import AmbiguousVersion, NoDeployableTag, UsageError

DELETED_WHILE_RESOLVING = "deleted from the registry while resolving (listed, then manifest unknown)"


class Registry(Protocol):
    def tags(self, image: ImageRef) -> tuple[str, ...]: ...

    def digest(self, image: ImageRef, tag: str) -> str | None: ...


class BuildTimes(Protocol):
    """When an image was built: its config's `created` (bot.adapters.registry.RegistryClient), None if unsaid."""

    def created(self, image: ImageRef, digest: str) -> datetime | None: ...


class Platforms(Protocol):
    """The platforms a multi-arch index has images for ("linux/amd64"); () for a single image (the registry client)."""

    def platforms(self, image: ImageRef, digest: str) -> tuple[str, ...]: ...


class FirstSeen(Protocol):
    """When tagpin first saw a digest (bot.adapters.releases.ReleasesSeen): recorded now if never before."""

    def first_seen(self, repository: str, digest: str, now: datetime) -> datetime: ...


class Ages(Protocol):
    def age(self, image: ImageRef, digest: str) -> Age: ...


class ReleaseAges:
    """A release's age for min_age: its build time (fetched once per digest) and when tagpin first saw it (in the
    store, so every tagpin process and restart agrees), both remembered in this process once known."""

    def __init__(self, builds: BuildTimes, seen: FirstSeen, clock: Callable[[], datetime] = utcnow) -> None:
        self.builds, self.seen, self.clock = builds, seen, clock
        self._first: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def age(self, image: ImageRef, digest: str) -> Age:
        key = (image.name(), digest)
        with self._lock:
            first = self._first.get(key)
        if first is None:
            first = self.seen.first_seen(image.name(), digest, self.clock())
            with self._lock:
                self._first[key] = first
        return Age(first, self.builds.created(image, digest))


@dataclass(frozen=True)
class Resolution:
    image: ImageRef
    tag: str
    digest: str
    selection: Selection
    skipped: tuple[Rejection, ...]      # candidates passed over after listing (deleted since)

    def _gone(self) -> set[str]:
        return {r.tag for r in self.skipped}

    @property
    def reference(self) -> str:
        return self.image.pinned(self.tag, self.digest)

    @property
    def candidate(self) -> Candidate:
        return next(c for c in self.selection.candidates if c.tag == self.tag)

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": self.image.name(), "tag": self.tag, "digest": self.digest, "reference": self.reference,
            "version": str(self.candidate.version),
            "candidates": [{"tag": c.tag, "aliases": list(c.aliases), "version": str(c.version)}
                           for c in self.selection.candidates if c.tag not in self._gone()],
            "rejected": [{"tag": r.tag, "reason": r.reason} for r in (*self.skipped, *self.selection.rejected)],
            "current_note": self.selection.current_note,      # --current given but not a version: no floor
        }


def _summary(rejected: tuple[Rejection, ...]) -> str:
    reasons = Counter(r.reason.split(":")[0] for r in rejected)
    return "; ".join(f"{n}x {reason}" for reason, n in reasons.most_common(4))


def resolve(registry: Registry, image: ImageRef, policy: Policy, current: str | None = None,
            allow_downgrade: bool = False, ages: Ages | None = None,
            now: Callable[[], datetime] = utcnow) -> Resolution:
    """Walk the ranked candidates; the first whose every spelling has one digest -- and, under min_age, that is
    old enough -- wins. A candidate passed over is said (deleted since it was listed, too young)."""
    if policy.min_age_seconds is not None and ages is None:
        raise UsageError(f"{image.name()}: min_age {policy.min_age} needs release ages, which this caller lacks")
    tags = registry.tags(image)
    selection = select(tags, policy, current=current, allow_downgrade=allow_downgrade)
    skipped: list[Rejection] = []
    for candidate in selection.iter_candidates():
        digest = registry.digest(image, candidate.tag)
        if digest is None:  # said, never silent: the operator sees why the next candidate won
            skipped.append(Rejection(candidate.tag, DELETED_WHILE_RESOLVING))
            continue
        for alias in candidate.aliases:
            other = registry.digest(image, alias)
            if other is None:
                skipped.append(Rejection(alias, DELETED_WHILE_RESOLVING))
            elif other != digest:
                raise AmbiguousVersion(
                    f"{image.name()}: {candidate.tag} and {alias} are one version but point to different "
                    f"digests ({digest[:19]}… vs {other[:19]}…); re-push one of them or delete the wrong tag")
        if policy.min_age_seconds is not None and ages is not None:
            young = ages.age(image, digest).too_young(policy.min_age_seconds, str(policy.min_age), now())
            if young is not None:
                skipped.append(Rejection(candidate.tag, young))
                continue
        return Resolution(image, candidate.tag, digest, selection, tuple(skipped))
    everything = (*skipped, *selection.rejected)
    if not tags:
        raise NoDeployableTag(f"{image.name()} has no tags at all")
    raise NoDeployableTag(f"{image.name()}: none of its {len(tags)} tags is deployable under "
                          f"{describe(policy)} ({_summary(everything)})")


def describe(policy: Policy) -> str:
    parts = [f"mode {policy.mode}"]
    if policy.constraint:
        parts.append(f"constraint {policy.constraint!r}")
    if policy.pattern:
        parts.append(f"pattern {policy.pattern!r}")
    parts.append("prereleases allowed" if policy.prerelease else "no prereleases")
    return ", ".join(parts)
