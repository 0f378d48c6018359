"""Tag listing, digests and failures against a loopback fake registry: shapes one registry cannot show."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import pytest

from bot.adapters.registry import MANIFEST_ACCEPT, PAGE_SIZE, RegistryClient
from bot.adapters.registry_http import plain_http_allowed
from bot.domain.references import ImageRef, parse_reference
from bot.errors import RegistryError, RegistryUnavailable, RepositoryNotFound
from tests.support.fake_registry import FakeRegistry, Seen, json_reply, paginated_tags

TAGS = [f"1.{i}.0" for i in range(7)]


def image(fake: FakeRegistry, repo: str = "acme/app") -> ImageRef:
    return parse_reference(f"{fake.host}/{repo}")


# OCI distribution-spec "Listing Tags": follow Link rel="next"; RFC 8288 wants <brackets>, some hosts
# omit them.
@pytest.mark.parametrize("style", ["relative<>", "absolute<>", "relative", "absolute"])
def test_pagination_follows_every_link_style(style: str) -> None:
    with FakeRegistry(paginated_tags(TAGS, cap=3, style=style)) as fake:
        assert RegistryClient().tags(image(fake)) == tuple(TAGS)
        assert len(fake.paths()) == 3
        assert fake.seen[0].query["n"] == [str(PAGE_SIZE)]


def test_oldest_first_listing_returns_everything() -> None:
    oldest_first = ["0.9.0", "1.0.0", "0.10.0", "2.0.0", "1.10.0"]  # push order, not lexical
    with FakeRegistry(paginated_tags(oldest_first, cap=2)) as fake:
        assert sorted(RegistryClient().tags(image(fake))) == sorted(oldest_first)


def test_host_ignoring_n_answers_in_one_page() -> None:
    many = [f"0.0.{i}" for i in range(2500)]
    with FakeRegistry(paginated_tags(many, cap=PAGE_SIZE, honour_n=False)) as fake:
        assert len(RegistryClient().tags(image(fake))) == 2500
        assert len(fake.paths()) == 1


def test_full_page_without_link_asks_past_the_last_tag() -> None:
    many = [f"0.0.{i}" for i in range(PAGE_SIZE + 5)]
    with FakeRegistry(paginated_tags(many, cap=PAGE_SIZE, link=False)) as fake:
        assert len(RegistryClient().tags(image(fake))) == PAGE_SIZE + 5
        assert fake.seen[1].query["last"] == [many[PAGE_SIZE - 1]]


def test_link_loop_stops_with_an_error() -> None:
    def loop(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return json_reply({"tags": ["1.0.0"]}, headers={"Link": '</v2/acme/app/tags/list?n=1>; rel="next"'})

    with FakeRegistry(loop) as fake, pytest.raises(RegistryError, match="pagination loop"):
        RegistryClient().tags(image(fake))
    assert len(fake.seen) == 2


def test_link_to_another_host_is_not_followed() -> None:
    def away(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return json_reply({"tags": ["1.0.0"]}, headers={"Link": '<http://127.0.0.2:1/v2/x>; rel="next"'})

    with FakeRegistry(away) as fake, pytest.raises(RegistryError, match="another host"):
        RegistryClient().tags(image(fake))


def test_concurrent_callers_share_one_listing_until_the_ttl_passes() -> None:
    def slow(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.3)
        return json_reply({"tags": TAGS})

    now = [0.0]
    with FakeRegistry(slow) as fake:
        client = RegistryClient(cache_ttl=60, clock=lambda: now[0])
        results: list[tuple[str, ...]] = []
        threads = [threading.Thread(target=lambda: results.append(client.tags(image(fake))))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [tuple(TAGS)] * 8
        assert len(fake.paths()) == 1
        now[0] = 61.0
        client.tags(image(fake))
        assert len(fake.paths()) == 2


def test_digest_heads_with_all_four_types_and_falls_back_to_hashing_the_body() -> None:
    body = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}'

    def no_header(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/vnd.oci.image.index.v1+json"}, body

    with FakeRegistry(no_header) as fake:
        client = RegistryClient()
        assert client.digest(image(fake), "1.0.0") == "sha256:" + hashlib.sha256(body).hexdigest()
        assert [s.method for s in fake.seen] == ["HEAD", "GET"]
        accept = fake.seen[0].headers["Accept"]
        for media_type in ("application/vnd.oci.image.index.v1+json",
                           "application/vnd.docker.distribution.manifest.list.v2+json",
                           "application/vnd.oci.image.manifest.v1+json",
                           "application/vnd.docker.distribution.manifest.v2+json"):
            assert media_type in accept
        assert accept == MANIFEST_ACCEPT
        assert client.stats == {"probe": 1, "manifest_head": 1, "manifest_get": 1}


def test_name_unknown_is_repository_not_found() -> None:
    unknown = json_reply({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}, 404)
    with FakeRegistry(lambda seen: unknown) as fake, \
            pytest.raises(RepositoryNotFound, match="acme/app not found"):
        RegistryClient().tags(image(fake))


def test_server_errors_are_retried_then_reported_with_the_url() -> None:
    with FakeRegistry(lambda seen: (500, {}, b"boom")) as fake:
        with pytest.raises(RegistryUnavailable) as info:
            RegistryClient().tags(image(fake))
        assert str(info.value) == f"registry answered HTTP 500: http://{fake.host}/v2/acme/app/tags/list"
        assert len(fake.seen) == 3  # urllib3 Retry: the first try and two status retries


def test_connection_refused_and_timeouts_are_registry_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(RegistryUnavailable, match=rf"unreachable \(connection failed\): 127.0.0.1:{port}$"):
            RegistryClient().tags(parse_reference(f"127.0.0.1:{port}/acme/app"))

    def stall(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return json_reply({"tags": []})

    with FakeRegistry(stall) as fake, pytest.raises(RegistryUnavailable, match=r"timed out after 0\.2s"):
        RegistryClient(timeout=0.2).tags(image(fake))


def test_failures_are_not_cached() -> None:
    replies = iter([(500, {}, b""), (500, {}, b""), (500, {}, b""), json_reply({"tags": ["1.0.0"]})])
    with FakeRegistry(lambda seen: next(replies)) as fake:
        client = RegistryClient()
        with pytest.raises(RegistryUnavailable):
            client.tags(image(fake))
        assert client.tags(image(fake)) == ("1.0.0",)


@pytest.mark.parametrize(("host", "plain"), [
    ("127.0.0.1:5000", True), ("127.9.9.9", True), ("localhost:5000", True), ("[::1]:5000", True),
    ("ghcr.io", False), ("registry-1.docker.io", False), ("10.0.0.1:5000", False),
    ("registry.internal:5000", True),  # listed in TAGPIN_INSECURE_REGISTRIES below
])
def test_plain_http_only_for_loopback_and_listed_hosts(host: str, plain: bool) -> None:
    assert plain_http_allowed(host, {"registry.internal:5000"}) is plain
