"""Pattern mode on real-world variant tags (Docker Hub's postgres and node): one to three numeric parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.stacks import load_template
from bot.domain.versions import Policy, Rejection, Version, parse_tag, select

ALPINE = r"^(?P<version>\d+(?:\.\d+){0,2})-(?P<variant>alpine)$"  # the stacks/demo.yml database example
DISTROS = r"^(?P<version>\d+(?:\.\d+){0,2})-(?P<variant>alpine|bookworm)$"

# Tag as published → the version it reads as (or the reason it is not one) under ALPINE.
READ = [
    ("16.4-alpine", Version(16, 4, 0, variant="alpine")),
    ("16-alpine", Version(16, 0, 0, variant="alpine")),
    ("20-alpine", Version(20, 0, 0, variant="alpine")),
    ("20.11-alpine", Version(20, 11, 0, variant="alpine")),
    ("20.11.1-alpine", Version(20, 11, 1, variant="alpine")),
    ("9.6.24-alpine", Version(9, 6, 24, variant="alpine")),
    ("16.10-alpine", Version(16, 10, 0, variant="alpine")),
    ("16.04-alpine", "version part '16.04': invalid semver: leading zero in 16.04"),
    ("2024-alpine", "version part '2024': bare number ≥ 1000 (a date or build number), not a version"),
    ("16.4-alpine3.20", "does not match the policy pattern"),
    ("16.4", "does not match the policy pattern"),
    ("alpine", "does not match the policy pattern"),
    ("latest", "does not match the policy pattern"),
    ("lts-alpine", "does not match the policy pattern"),
    ("16.4.1.2-alpine", "does not match the policy pattern"),
]


@pytest.mark.parametrize(("tag", "read"), READ)
def test_variant_tags_read(tag: str, read: Version | str) -> None:
    got = parse_tag(tag, Policy(mode="pattern", pattern=ALPINE))
    assert got == (read if isinstance(read, Version) else Rejection(tag, read))


POSTGRES = ["17.0-alpine", "17-alpine", "16.10-alpine", "16.9-alpine", "16.4-alpine", "16-alpine",
            "16.4-bookworm", "16.11-bookworm", "16.4-alpine3.20", "16.4", "alpine", "latest", "15.8-alpine"]
NODE = ["22-alpine", "20-alpine", "20.11-alpine", "20.11.1-alpine", "20.9.0-alpine", "20.11.1-bookworm",
        "20.11.1-alpine3.19", "lts-alpine", "current-alpine"]

# (tags, pattern, constraint, running tag) → ranked candidates, best first: numeric order, variant held.
SELECT = [
    (POSTGRES, ALPINE, "^16", "16.4-alpine", ["16.10-alpine", "16.9-alpine", "16.4-alpine"]),
    (POSTGRES, ALPINE, None, "16.4-alpine", ["17.0-alpine", "16.10-alpine", "16.9-alpine", "16.4-alpine"]),
    (POSTGRES, DISTROS, "^16", "16.4-alpine", ["16.10-alpine", "16.9-alpine", "16.4-alpine"]),
    (POSTGRES, DISTROS, "^16", "16.4-bookworm", ["16.11-bookworm", "16.4-bookworm"]),
    (POSTGRES, ALPINE, "~16.9", "16-alpine", ["16.9-alpine"]),
    (NODE, ALPINE, "^20", "20-alpine", ["20.11.1-alpine", "20.11-alpine", "20.9.0-alpine", "20-alpine"]),
    (NODE, DISTROS, "^20", "20.11-alpine", ["20.11.1-alpine", "20.11-alpine"]),
    (NODE, ALPINE, None, None, ["22-alpine", "20.11.1-alpine", "20.11-alpine", "20.9.0-alpine", "20-alpine"]),
]


@pytest.mark.parametrize(("tags", "pattern", "constraint", "running", "ranked"), SELECT)
def test_variant_tags_ranked(tags: list[str], pattern: str, constraint: str | None, running: str | None,
                             ranked: list[str]) -> None:
    chosen = select(tags, Policy(mode="pattern", pattern=pattern, constraint=constraint), current=running)
    assert [c.tag for c in chosen.candidates] == ranked
    assert chosen.current_note is None


def test_a_running_alpine_tag_never_moves_to_another_variant() -> None:
    chosen = select(POSTGRES, Policy(mode="pattern", pattern=DISTROS), current="16.4-alpine")
    reasons = {r.tag: r.reason for r in chosen.rejected}
    assert reasons["16.11-bookworm"] == "variant bookworm ≠ running variant alpine"
    assert reasons["16-alpine"] == "below the running version 16.4.0"


def test_one_version_spelled_two_ways_prefers_the_specific_spelling() -> None:
    # `20.11-alpine` and `20.11.0-alpine` would be one version, as `17` and `17.0` are in two-part mode.
    chosen = select(["20.11-alpine", "20.11.0-alpine"], Policy(mode="pattern", pattern=ALPINE))
    assert [(c.tag, c.aliases) for c in chosen.candidates] == [("20.11.0-alpine", ("20.11-alpine",))]


def test_the_demo_templates_database_example_loads_with_this_policy() -> None:
    demo = (Path(__file__).resolve().parents[2] / "stacks" / "demo.yml").read_text()
    lines = demo.splitlines()
    start = lines.index("  # db:")
    block = [line.replace("  # ", "  ", 1) for line in lines[start:] if line.startswith("  #   ") or
             line == "  # db:"]
    text = demo.replace("networks:\n  hostnet", "\n".join(block) + "\nnetworks:\n  hostnet", 1)
    db = load_template(text, "stacks/demo.yml").service("db")
    assert db.policy == Policy(mode="pattern", pattern=ALPINE, constraint="^16")
    ranked = select(POSTGRES, db.policy, current="16.4-alpine").candidates
    assert [c.tag for c in ranked] == ["16.10-alpine", "16.9-alpine", "16.4-alpine"]
