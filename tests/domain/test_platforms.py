"""Platforms: an engine's node (uname's words) against an index's images (GOARCH's words)."""

from __future__ import annotations

import pytest

from bot.domain.platforms import cannot_run, node_platform


@pytest.mark.parametrize(("os_name", "arch", "platform"), [
    ("linux", "x86_64", "linux/amd64"),           # what dockerd reports for Node.Description.Platform
    ("linux", "aarch64", "linux/arm64"),
    ("linux", "armv7l", "linux/arm"),
    ("Linux", "X86_64", "linux/amd64"),
    ("windows", "x86_64", "windows/amd64"),
    ("linux", "s390x", "linux/s390x"),            # the same word in both vocabularies
    ("", "x86_64", "linux/amd64"),
])
def test_node_platform_speaks_the_index_s_words(os_name: str, arch: str, platform: str) -> None:
    assert node_platform(os_name, arch) == platform


@pytest.mark.parametrize(("offered", "nodes", "runs"), [
    (("linux/amd64", "linux/arm64"), {"linux/amd64"}, True),
    (("linux/arm64",), {"linux/amd64"}, False),
    (("linux/arm64",), {"linux/amd64", "linux/arm64"}, True),      # a mixed swarm: some node can
    (("linux/arm/v7",), {"linux/arm"}, True),                      # a variant does not decide
    ((), {"linux/amd64"}, True),                                    # a single image: nothing to compare
    (("linux/arm64",), set(), True),                                # an engine that lists no node: unknown
])
def test_cannot_run_only_when_no_node_has_an_offered_platform(offered: tuple[str, ...], nodes: set[str],
                                                               runs: bool) -> None:
    why = cannot_run("app: r/app:1.0.0@sha256:…", offered, nodes)
    assert (why is None) is runs
    if why is not None:
        assert why == (f"app: r/app:1.0.0@sha256:… is a multi-arch index with images for {', '.join(offered)} only; "
                       f"this swarm's nodes are {', '.join(sorted(nodes))}: no node could pull it")
