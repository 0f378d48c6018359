"""What Swarm runs, read as tagpin reads it: a digest is a digest only when the one grammar says so."""

from __future__ import annotations

import pytest

from bot.domain.running import digest_of

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(("reference", "digest"), [
    (f"r/app:1.0@{D}", D),
    (f"127.0.0.1:5000/r/app@{D}", D),
    ("r/app:latest", None),
    ("r/app@sha256:abc", None),                       # too short: not a pin, so never "on target"
    (f"r/app@{D.upper()}", None),                     # the grammar is lowercase hex
    (f"r/app@{D}0", None),
    ("r/app@sha512:" + "b" * 128, None),              # a valid digest, but not one tagpin pins or compares
])
def test_digest_of_reads_only_a_pinned_sha256(reference: str, digest: str | None) -> None:
    assert digest_of(reference) == digest
