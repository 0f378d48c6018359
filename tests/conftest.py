"""Shared test plumbing: real services are found or the test skips -- or fails when TAGPIN_REQUIRE names them."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

REGISTRY = os.environ.get("TAGPIN_TEST_REGISTRY", "127.0.0.1:5000")
# scripts/services.sh --postgres: a cluster of tagpin's own on 127.0.0.1:5433, role tagpin may create databases.
POSTGRES = os.environ.get("TAGPIN_TEST_POSTGRES", "postgresql+psycopg://tagpin:tagpin@127.0.0.1:5433/tagpin")


def required() -> set[str]:
    return {s.strip() for s in os.environ.get("TAGPIN_REQUIRE", "").split(",") if s.strip()}


def unavailable(service: str, reason: str) -> None:
    """Skip locally; fail in CI (TAGPIN_REQUIRE lists the service) -- a green run that skipped is red."""
    message = f"{service} unavailable: {reason} (run scripts/services.sh)"
    if service in required():
        pytest.fail(f"{message}; TAGPIN_REQUIRE demands it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def registry() -> str:
    """host:port of a real registry on loopback."""
    try:
        answer = requests.get(f"http://{REGISTRY}/v2/", timeout=3)
        if answer.status_code not in (200, 401):      # 401: a registry with auth on is still a registry
            answer.raise_for_status()
    except requests.RequestException as exc:
        unavailable("registry", f"http://{REGISTRY}/v2/ -> {exc}")
    return REGISTRY


@pytest.fixture(scope="session")
def swarm() -> Iterator[object]:
    """A docker client whose daemon is a swarm manager."""
    import docker

    try:
        client = docker.from_env()
        state = client.info().get("Swarm", {}).get("LocalNodeState")
    except Exception as exc:
        unavailable("swarm", f"dockerd not reachable: {exc}")
    if state != "active":
        unavailable("swarm", f"dockerd is not in swarm mode (state {state!r})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("browser", "no chromium on PATH (apt-get install chromium)")
    return str(path)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for repository and stack names, so runs never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def postgres() -> str:
    """The URL of a real PostgreSQL whose role may create databases."""
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        unavailable("postgres", f"{engine.url.render_as_string(hide_password=True)} -> {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    return POSTGRES


@pytest.fixture
def postgres_url(postgres: str) -> Iterator[str]:
    """A fresh, empty database of its own for one test, dropped afterwards (even with connections left open)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tagpin_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
        _drop(admin, name)
    finally:
        admin.dispose()


def _drop(admin: Any, name: str, tries: int = 20) -> None:
    """DROP DATABASE … WITH (FORCE), tried again for a few seconds: FORCE ends the test's own sessions, but not one
    of the server's (an autovacuum worker, a superuser's) -- "must be a member of the role whose process is being
    terminated" -- and those end by themselves."""
    from sqlalchemy import exc, text

    for attempt in range(tries):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except (exc.ProgrammingError, exc.OperationalError):
            if attempt == tries - 1:
                raise
            time.sleep(0.25)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same test on both supported stores: a fresh SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'tagpin.db'}"
    return str(request.getfixturevalue("postgres_url"))
