"""Image reference grammar: tables follow github.com/distribution/reference (reference.go, normalize.go)."""

from __future__ import annotations

import pytest

from bot.domain.references import ImageRef, parse_reference
from bot.errors import ImageReferenceError

D = "sha256:" + "a" * 64

# (text, registry, repository, tag, digest) -- normalize.go: Docker Hub names gain "library/".
VALID = [
    ("nginx", "docker.io", "library/nginx", None, None),
    ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
    ("docker.io/nginx", "docker.io", "library/nginx", None, None),
    ("index.docker.io/acme/app:v1", "docker.io", "acme/app", "v1", None),
    ("acme/frontend:1.2.3", "docker.io", "acme/frontend", "1.2.3", None),
    ("127.0.0.1:5000/acme/frontend", "127.0.0.1:5000", "acme/frontend", None, None),
    ("localhost/app", "localhost", "app", None, None),  # localhost is a host, no "library/"
    ("localhost:5000/a/b/c:tag", "localhost:5000", "a/b/c", "tag", None),
    ("ghcr.io/acme/frontend@" + D, "ghcr.io", "acme/frontend", None, D),
    ("ghcr.io/acme/frontend:1.0@" + D, "ghcr.io", "acme/frontend", "1.0", D),
    ("[::1]:5000/app", "[::1]:5000", "app", None, None),
    ("Registry.Example.com/app", "Registry.Example.com", "app", None, None),  # hosts may be mixed case
    ("foo_bar/a__b/c.d/e-f/g---h", "docker.io", "foo_bar/a__b/c.d/e-f/g---h", None, None),
    ("app:_under", "docker.io", "library/app", "_under", None),
    ("app:" + "x" * 128, "docker.io", "library/app", "x" * 128, None),
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_valid(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


# (text, fragment of the one-line message)
INVALID = [
    ("", "empty"),
    ("acme/frontend ", "whitespace"),
    ("acme/front end", "whitespace"),
    ("acme/Frontend", "must be lowercase"),
    ("ghcr.io/ACME/app", "must be lowercase"),
    ("acme//app", "empty path component"),
    ("acme/app/", "empty path component"),
    ("acme/-app", "may hold only"),
    ("acme/a..b", "may hold only"),
    ("acme/app:", "invalid tag"),
    ("acme/app:-x", "invalid tag"),
    ("acme/app:" + "x" * 129, "invalid tag"),
    ("acme/app@sha256:abc", "invalid digest"),
    ("acme/app@sha256:" + "A" * 64, "invalid digest"),  # OCI descriptor.md: lowercase hex
    ("acme/app@md5:" + "a" * 32, "invalid digest"),
    ("acme/app@", "invalid digest"),
    ("https://ghcr.io/acme/app", "URL scheme"),
    (":tag", "no repository"),
    ("a" * 64, "image ID"),
    ("-bad.host/app", "host[:port]"),
    ("host:port/app", "host[:port]"),
    ("a" * 256, "longer than 255"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(ImageReferenceError) as info:
        parse_reference(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_docker_hub_api_host_differs_from_display_name() -> None:
    assert parse_reference("nginx").api_host == "registry-1.docker.io"
    assert parse_reference("ghcr.io/a/b").api_host == "ghcr.io"


@pytest.mark.parametrize("text", ["nginx", "docker.io/library/nginx", "127.0.0.1:5000/acme/frontend"])
def test_name_keeps_the_users_spelling(text: str) -> None:
    assert parse_reference(text + ":1.0").name() == text


def test_pinned() -> None:
    ref = parse_reference("127.0.0.1:5000/acme/frontend")
    assert ref.pinned("1.2.3", D) == f"127.0.0.1:5000/acme/frontend:1.2.3@{D}"
    assert parse_reference(ref.pinned("1.2.3", D)).digest == D
    with pytest.raises(ImageReferenceError, match="invalid digest"):
        ref.pinned("1.2.3", "sha256:short")
    with pytest.raises(ImageReferenceError, match="invalid tag"):
        ref.pinned("bad tag", D)


def test_equality_ignores_spelling_and_str_round_trips() -> None:
    assert parse_reference("nginx") == parse_reference("docker.io/library/nginx")
    ref = parse_reference(f"ghcr.io/acme/app:1.0@{D}")
    assert str(ref) == f"ghcr.io/acme/app:1.0@{D}"
    assert ImageRef("ghcr.io", "acme/app").name() == "ghcr.io/acme/app"
