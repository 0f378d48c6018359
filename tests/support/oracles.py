"""Public test fixtures in shared/oracles beside the checkout (read in place, never copied into the project)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.conftest import unavailable

# The checkout's sibling folder `shared/` (CI lays a copy there too); TAGPIN_ORACLES overrides.
DIR = Path(os.environ.get("TAGPIN_ORACLES") or Path(__file__).resolve().parents[3] / "shared" / "oracles")


def load(name: str) -> dict[str, Any]:
    """The parsed fixture file; skips (fails under TAGPIN_REQUIRE=oracles) when it is not there."""
    path = DIR / name
    if not path.is_file():
        unavailable("oracles", f"{path} not found")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def cases(name: str, section: str) -> list[dict[str, Any]]:
    """One table for parametrize; empty (the test then reports as not run) when the file is missing."""
    path = DIR / name
    return list(json.loads(path.read_text())[section]) if path.is_file() else []
