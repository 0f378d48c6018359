"""Resolve one repository to the highest tag its policy allows, and that tag's digest -- explained."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.references import ImageRef
from bot.domain.versions import Candidate, Policy, Rejection, Selection, select
from bot.errors import AmbiguousVersion, NoDeployableTag

DELETED_WHILE_RESOLVING = "deleted from the registry while resolving (listed, then manifest unknown)"


class Registry(Protocol):
    def tags(self, image: ImageRef) -> tuple[str, ...]: ...

    def digest(self, image: ImageRef, tag: str) -> str | None: ...


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
            allow_downgrade: bool = False) -> Resolution:
    """Walk the ranked candidates; the first whose every spelling has one digest wins."""
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
