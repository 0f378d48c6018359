"""Slack-tier fixtures: a bot without Swarm (transport, authorization) and one standing on a real tenant."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Tenant, tenant  # noqa: F401 -- re-exported fixture: a real tenant on the Swarm
from tests.slack.harness import Bot, running_bot


@pytest.fixture
def offline_bot(tmp_path: Path) -> Iterator[Bot]:
    """The real app and endpoint with a fresh database and no stack template: nothing reaches Docker."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"}
    with running_bot(env) as bot:
        bot.api.usergroups["SOPS"] = ["UCAROL"]
        yield bot


@pytest.fixture
def bot(tenant: Tenant) -> Iterator[Bot]:  # noqa: F811 -- the fixture above, by name
    with running_bot(tenant.env) as b:
        b.api.usergroups["SOPS"] = ["UCAROL"]
        yield b
