"""The watcher's view of the registry: listings per scan, digests remembered for a while, both dropped for a
repository the registry says was pushed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from bot.domain.references import ImageRef
from bot.service.observe import ScanRegistry
from bot.service.resolve import Registry


@runtime_checkable
class Forgets(Protocol):
    """A registry client with a shared listing cache (bot.adapters.registry.RegistryClient)."""

    def forget(self, image: ImageRef) -> None: ...


class WatchRegistry:
    """The watcher's view of the registry: every repository listed once per scan (a re-pushed or new tag shows
    at once), while a (repository, tag) digest is looked up again only after `digest_ttl` seconds -- so a steady
    scan costs one request per repository, and a re-pushed tag is noticed within that time, not instantly."""

    def __init__(self, inner: Registry, digest_ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner, self.ttl, self.clock = inner, digest_ttl, clock
        self.scan = ScanRegistry(inner)
        self._digests: dict[tuple[str, str], tuple[float, str | None]] = {}

    def new_scan(self) -> None:
        self.scan = ScanRegistry(self.inner)

    def forget(self, images: Iterable[ImageRef]) -> None:
        """A push event for these repositories: their listings and remembered digests are read again (a re-pushed
        tag shows at once, not after digest_ttl)."""
        images = list(images)
        names = {image.name() for image in images}
        self._digests = {k: v for k, v in self._digests.items() if k[0] not in names}
        if isinstance(self.inner, Forgets):
            for image in images:
                self.inner.forget(image)

    def tags(self, image: ImageRef) -> tuple[str, ...]:
        return self.scan.tags(image)

    def digest(self, image: ImageRef, tag: str) -> str | None:
        key, now = (image.name(), tag), self.clock()
        hit = self._digests.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        digest = self.inner.digest(image, tag)
        self._digests[key] = (now, digest)
        return digest
