"""Outdated clients: builds older than the deployed tag, compared by major.minor.patch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.clients import ClientSeen, outdated_client
from bot.domain.versions import Policy

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SLIM = Policy(mode="pattern", pattern=r"^(?P<version>\d+\.\d+\.\d+)-(?P<variant>slim)$")


def seen(version: str, loads: int = 1, failed: int = 0) -> ClientSeen:
    return ClientSeen("annotator", version, loads, failed, AT)


@pytest.mark.parametrize(("deployed", "policy", "versions", "running"), [
    ("1.10.0", Policy(), ["1.9.0"], "annotator@1.9.0"),              # 1.9.0 < 1.10.0 numerically, not as text
    ("1.10.0", Policy(), ["1.10.0"], None),
    ("1.10.0", Policy(), ["1.11.0"], None),                          # newer than deployed: not outdated
    ("1.10.0", Policy(), ["1.2.0", "1.9.0", "1.10.0"], "annotator@1.2.0"),  # names the oldest
    ("1.10.0-slim", SLIM, ["1.9.0"], "annotator@1.9.0"),             # the image variant is not the app's
    ("v2.0.0", Policy(), ["1.99.0"], "annotator@1.99.0"),
    ("1.10.0", Policy(), ["banana"], None),                          # an unreadable build is not compared
    ("latest", Policy(), ["1.0.0"], None),                           # nothing to compare with (unpinned: drift)
    (None, Policy(), ["1.0.0"], None),
])
def test_outdated(deployed: str | None, policy: Policy, versions: list[str], running: str | None) -> None:
    found = outdated_client("acme", "frontend", deployed, policy, [seen(v) for v in versions])
    assert (found.running if found else None) == running
    if found:
        assert found.kind == "outdated_client" and found.target == deployed


def test_detail_counts_loads_and_failed_submits_of_old_builds_only() -> None:
    found = outdated_client("acme", "frontend", "1.10.0", Policy(),
                            [seen("1.9.0", loads=3, failed=2), seen("1.8.0", loads=1, failed=1), seen("1.10.0", 9)])
    assert found is not None
    assert "annotator 1.8.0, 1.9.0" in found.detail and "4 page loads, 3 failed submits" in found.detail
