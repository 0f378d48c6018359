"""Image references (`[host[:port]/]path[:tag][@digest]`) parsed by Docker's reference grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.errors import ImageReferenceError

# Grammar from github.com/distribution/reference (reference.go, regexp.go); names are kept verbatim.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
# OCI image-spec descriptor.md: registered algorithms sha256 (64 hex) and sha512 (128 hex), lowercase.
# The one digest grammar: what a reference may carry, the sha256 that tagpin pins and compares, and (written
# with `-`) the digest in a cosign signature tag (`sha256-<hex>.sig`, see tags.py).
_HEX_DIGITS = {"sha256": 64, "sha512": 128}


def digest_grammar(separator: str = ":") -> str:
    """The digest grammar as regex text; separator `-` spells a digest the way cosign writes it into a tag."""
    return "|".join(f"{algorithm}{separator}[a-f0-9]{{{n}}}" for algorithm, n in _HEX_DIGITS.items())


_DIGEST = re.compile(digest_grammar())
_HEX64 = re.compile(rf"[a-f0-9]{{{_HEX_DIGITS['sha256']}}}")
SHA256 = re.compile(rf"sha256:{_HEX64.pattern}")
NAME_TOTAL_LENGTH_MAX = 255
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = {DOCKER_HUB, "index.docker.io", DOCKER_HUB_API}


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference: `registry` is the display host ("docker.io" for Docker Hub)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    # The name exactly as the user wrote it ("nginx"), so rendered files keep their spelling.
    written: str = field(default="", compare=False)

    @property
    def api_host(self) -> str:
        """The host that serves the Registry HTTP API (Docker Hub's differs from its display name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def name(self) -> str:
        return self.written or f"{self.registry}/{self.repository}"

    def pinned(self, tag: str, digest: str) -> str:
        """`name:tag@digest`, the form that makes Swarm run exactly that content."""
        _check_tag(tag)
        _check_digest(digest)
        return f"{self.name()}:{tag}@{digest}"

    def __str__(self) -> str:
        return self.name() + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def _bad(text: str, reason: str) -> ImageReferenceError:
    return ImageReferenceError(f"invalid image reference {text!r}: {reason}")


def _check_tag(tag: str) -> None:
    if not _TAG.fullmatch(tag):
        raise ImageReferenceError(
            f"invalid tag {tag!r}: use 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")


def _check_digest(digest: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise ImageReferenceError(
            f"invalid digest {digest!r}: expected 'sha256:' followed by 64 lowercase hex digits "
            "(or 'sha512:' and 128)")


def _check_path(path: str, text: str) -> None:
    for component in path.split("/"):
        if not component:
            raise _bad(text, f"empty path component in {path!r}")
        if component != component.lower():
            raise _bad(text, f"repository {path!r} must be lowercase")
        if not _PATH_COMPONENT.fullmatch(component):
            raise _bad(
                text, f"path component {component!r} may hold only a-z, 0-9 "
                "and single '.', '_', '__' or '-' runs between them")


def _split_domain(name: str) -> tuple[str | None, str]:
    # Docker's splitDockerDomain: the first component is a host if it has '.' or ':',
    # is localhost, or is not all lowercase.
    first, slash, rest = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


def parse_reference(text: str) -> ImageRef:
    """Parse `text`; raise ImageReferenceError with a one-line reason when it is not a valid reference."""
    if not text:
        raise ImageReferenceError("empty image reference")
    if any(c.isspace() for c in text):
        raise _bad(text, "contains whitespace")
    if "://" in text:
        raise _bad(text, "drop the URL scheme (write host/path:tag)")
    rest, at, digest = text.partition("@")
    if at:
        _check_digest(digest)
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        name, tag = rest[:colon], rest[colon + 1:]
        _check_tag(tag)
    if not name:
        raise _bad(text, "no repository name")
    domain, path = _split_domain(name)
    # reference.go checks the path only (the host is not part of the repository name); a Hub name is
    # checked as the API sees it, with "library/" (normalize.go parses the normalized name).
    hub = domain is None or domain in _HUB_ALIASES
    api_path = f"library/{path}" if hub and "/" not in path else path
    if len(api_path) > NAME_TOTAL_LENGTH_MAX:
        raise _bad(text[:40] + "...", f"repository path longer than {NAME_TOTAL_LENGTH_MAX} characters "
                   f"({len(api_path)})")
    if domain is not None and not _DOMAIN.fullmatch(domain):
        raise _bad(text, f"{domain!r} is not a valid host[:port]")
    _check_path(path, text)
    if domain is None and _HEX64.fullmatch(path):
        raise _bad(text, "a 64-hex name looks like an image ID")
    return ImageRef(DOCKER_HUB if hub else str(domain), api_path, tag, digest or None, written=name)
