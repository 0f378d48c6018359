"""The fault tier reuses the e2e tier's real tenant (unique repositories, template, database and stack)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bot.slack.localapi import LocalSlackAPI
from tests.e2e.conftest import tenant

__all__ = ["closed_port", "slack", "tenant"]


@pytest.fixture
def slack() -> Iterator[LocalSlackAPI]:
    with LocalSlackAPI() as api:
        yield api


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: a registry that is down (never an outside address)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
