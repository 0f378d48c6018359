"""RegistryClient against the real registry on 127.0.0.1:5000: tags, digests, moves, indexes, errors."""

from __future__ import annotations

import pytest

from bot.adapters.registry import RegistryClient
from bot.domain.references import parse_reference
from bot.errors import RegistryError, RepositoryNotFound
from tests.support.oci import Pusher


@pytest.fixture
def pusher(registry: str) -> Pusher:
    return Pusher(registry)


def test_lists_every_tag_and_digests_match_the_push(registry: str, pusher: Pusher, unique: str) -> None:
    repo = f"tagpin-test/{unique}/frontend"
    pushed = {tag: pusher.push(repo, tag).digest for tag in ("1.0.0", "1.1.0", "v1.2.0", "latest")}
    with RegistryClient() as client:
        image = parse_reference(f"{registry}/{repo}")
        assert sorted(client.tags(image)) == sorted(pushed)
        assert {tag: client.digest(image, tag) for tag in pushed} == pushed
        assert client.stats["tags_page"] == 1
        assert client.stats["manifest_head"] == 4
        assert "manifest_get" not in client.stats  # the real registry always sends Docker-Content-Digest


def test_listing_is_cached_within_ttl(registry: str, pusher: Pusher, unique: str) -> None:
    repo = f"tagpin-test/{unique}/api"
    pusher.push(repo, "1.0.0")
    with RegistryClient(cache_ttl=60) as client:
        image = parse_reference(f"{registry}/{repo}")
        assert client.tags(image) == ("1.0.0",)
        pusher.push(repo, "2.0.0")
        assert client.tags(image) == ("1.0.0",)  # within the TTL: the shared listing
        assert client.stats["tags_page"] == 1
    with RegistryClient(cache_ttl=0) as fresh:
        assert sorted(fresh.tags(image)) == ["1.0.0", "2.0.0"]


def test_repushed_tag_moves_the_digest(registry: str, pusher: Pusher, unique: str) -> None:
    repo = f"tagpin-test/{unique}/worker"
    first = pusher.push(repo, "1.0.0", content="one").digest
    with RegistryClient(cache_ttl=0) as client:
        image = parse_reference(f"{registry}/{repo}")
        assert client.digest(image, "1.0.0") == first
        second = pusher.push(repo, "1.0.0", content="two").digest
        assert second != first
        assert client.digest(image, "1.0.0") == second


def test_multi_arch_tag_resolves_to_the_index_digest(registry: str, pusher: Pusher, unique: str) -> None:
    repo = f"tagpin-test/{unique}/multi"
    index = pusher.push_index(repo, "2.0.0")
    with RegistryClient() as client:
        assert client.digest(parse_reference(f"{registry}/{repo}"), "2.0.0") == index.digest


def test_oci_manifest_digest(registry: str, pusher: Pusher, unique: str) -> None:
    repo = f"tagpin-test/{unique}/oci"
    pushed = pusher.push(repo, "1.0.0", media_type="application/vnd.oci.image.manifest.v1+json")
    with RegistryClient() as client:
        assert client.digest(parse_reference(f"{registry}/{repo}"), "1.0.0") == pushed.digest


def test_unknown_repository(registry: str, unique: str) -> None:
    with RegistryClient() as client, pytest.raises(RepositoryNotFound) as info:
        client.tags(parse_reference(f"{registry}/tagpin-test/{unique}/nothing-here"))
    assert str(info.value) == f"repository tagpin-test/{unique}/nothing-here not found on {registry}"


def test_deleted_tag_has_no_digest(registry: str, pusher: Pusher, unique: str) -> None:
    repo = f"tagpin-test/{unique}/gone"
    pusher.push(repo, "1.0.0", content="kept")
    pusher.push(repo, "1.1.0", content="deleted")
    pusher.delete_tag(repo, "1.1.0")
    with RegistryClient() as client:
        image = parse_reference(f"{registry}/{repo}")
        assert client.digest(image, "1.1.0") is None
        assert client.digest(image, "never-pushed") is None
        assert client.digest(image, "1.0.0") is not None


def test_build_time_is_the_config_created_read_once_per_digest(registry: str, pusher: Pusher, unique: str) -> None:
    from datetime import UTC, datetime

    repo = f"tagpin-test/{unique}/built"
    built = pusher.push(repo, "1.0.0", created="2026-12-01T10:20:30.123456789Z").digest      # Go's nanoseconds
    plain = pusher.push(repo, "1.1.0").digest                          # no created (a reproducible build may)
    index = pusher.push_index(repo, "2.0.0", created="2026-11-30T08:00:00+01:00").digest
    image = parse_reference(f"{registry}/{repo}")
    with RegistryClient() as client:
        assert client.created(image, built) == datetime(2026, 12, 1, 10, 20, 30, 123456, tzinfo=UTC)
        assert client.created(image, plain) is None
        assert client.created(image, index) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)   # its platform's image
        asked = dict(client.stats)
        assert asked == {"probe": 1, "manifest_get": 4, "config_blob": 3}, asked    # index + child: 2 manifests
        for digest in (built, plain, index):                          # content-addressed: never asked again
            client.created(image, digest)
        assert client.stats == asked
        with pytest.raises(RegistryError, match=r"answered HTTP 404 for manifest .*@sha256:0000"):
            client.created(image, "sha256:" + "0" * 64)


def test_an_index_s_platforms_are_asked_once_and_a_single_image_s_never(registry: str, pusher: Pusher,
                                                                        unique: str) -> None:
    repo = f"tagpin-test/{unique}/platforms"
    plain = pusher.push(repo, "1.0.0").digest
    index = pusher.push_index(repo, "2.0.0", platforms=("linux/amd64", "linux/arm64")).digest
    with RegistryClient() as client:
        image = parse_reference(f"{registry}/{repo}")
        assert (client.digest(image, "1.0.0"), client.digest(image, "2.0.0")) == (plain, index)
        asked = dict(client.stats)
        assert client.platforms(image, plain) == ()          # the HEAD said it is no index: nothing to ask
        assert client.stats == asked
        assert client.platforms(image, index) == ("linux/amd64", "linux/arm64")
        assert client.platforms(image, index) == ("linux/amd64", "linux/arm64")
        assert client.stats == {**asked, "manifest_get": asked.get("manifest_get", 0) + 1}
    with RegistryClient() as fresh:                           # a digest it never looked up: asked, then known
        assert fresh.platforms(image, plain) == ()
        assert fresh.stats["manifest_get"] == 1
