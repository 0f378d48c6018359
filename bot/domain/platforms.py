"""Platforms: what a multi-arch index offers against what a swarm's nodes are, in the index's words (linux/amd64)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

# The engine reports a node's architecture as the kernel does (`uname -m`); an OCI index names Go's GOARCH.
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
           "armv6l": "arm", "armhf": "arm", "i386": "386", "i686": "386"}


def node_platform(os_name: str, architecture: str) -> str:
    """A node's platform as an index writes it: ("linux", "x86_64") → "linux/amd64"."""
    arch = architecture.strip().lower()
    return f"{os_name.strip().lower() or 'linux'}/{_GOARCH.get(arch, arch)}"


def _plain(platform: str) -> str:
    return "/".join(platform.split("/")[:2])      # os/arch: a variant (arm/v7) does not decide here


def cannot_run(reference: str, offered: Sequence[str], nodes: Collection[str]) -> str | None:
    """Why no node can run the index `reference` (its images are for `offered`), or None when one can, or when
    either side is unknown (a plain manifest offers nothing to compare; an engine that lists no node)."""
    if not offered or not nodes:
        return None
    have = {_plain(p) for p in offered}
    if any(_plain(n) in have for n in nodes):
        return None
    return (f"{reference} is a multi-arch index with images for {', '.join(sorted(have))} only; this swarm's "
            f"nodes are {', '.join(sorted({_plain(n) for n in nodes}))}: no node could pull it")
