"""resolve() on the real registry when a tag is deleted between listing and digest lookup: said, next one used."""

from __future__ import annotations

import pytest

from bot.adapters.registry import RegistryClient
from bot.domain.references import ImageRef, parse_reference
from bot.domain.versions import Policy
from bot.errors import NoDeployableTag
from bot.service.resolve import resolve
from tests.support.oci import Pusher

GONE = "deleted from the registry while resolving (listed, then manifest unknown)"


class DeletesAfterListing:
    """The real client; right after the listing, the registry API deletes `doomed` (another operator's act)."""

    def __init__(self, client: RegistryClient, pusher: Pusher, repo: str, doomed: tuple[str, ...]) -> None:
        self.client, self.pusher, self.repo, self.doomed = client, pusher, repo, doomed

    def tags(self, image: ImageRef) -> tuple[str, ...]:
        listed = self.client.tags(image)
        for tag in self.doomed:
            self.pusher.delete_tag(self.repo, tag)
        return listed

    def digest(self, image: ImageRef, tag: str) -> str | None:
        return self.client.digest(image, tag)


def test_a_tag_deleted_while_resolving_is_reported_and_the_next_one_wins(registry: str, unique: str) -> None:
    pusher, repo = Pusher(registry), f"tagpin-test/{unique}/deleted"
    kept = pusher.push(repo, "1.1.0", content="kept").digest
    pusher.push(repo, "1.2.0", content="doomed")
    image = parse_reference(f"{registry}/{repo}")
    with RegistryClient() as client:
        result = resolve(DeletesAfterListing(client, pusher, repo, ("1.2.0",)), image, Policy())
        assert client.stats["manifest_head"] == 2  # 1.2.0 was asked for (and was gone), then 1.1.0
    assert (result.tag, result.digest) == ("1.1.0", kept)
    data = result.as_dict()
    assert {"tag": "1.2.0", "reason": GONE} in data["rejected"]
    assert [c["tag"] for c in data["candidates"]] == ["1.1.0"]  # a deleted tag is no longer a candidate


def test_every_candidate_deleted_says_so(registry: str, unique: str) -> None:
    pusher, repo = Pusher(registry), f"tagpin-test/{unique}/all-gone"
    pusher.push(repo, "1.0.0", content="a")
    pusher.push(repo, "1.1.0", content="b")
    image = parse_reference(f"{registry}/{repo}")
    with RegistryClient() as client, pytest.raises(NoDeployableTag) as info:
        resolve(DeletesAfterListing(client, pusher, repo, ("1.0.0", "1.1.0")), image, Policy())
    assert f"2x {GONE}" in str(info.value)
