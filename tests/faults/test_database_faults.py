"""The database going away around a deploy -- a restart, a failover, an outage -- through a loopback proxy of the
test's own, so the shared PostgreSQL stays up: the deploy goes on, or says in one line that its outcome could not
be recorded and what settles it; never a traceback. On the real Swarm and registry."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.adapters.store import Store
from tests.conftest import POSTGRES
from tests.e2e.conftest import Tenant
from tests.support.tcpproxy import TCPProxy


@pytest.fixture
def proxy() -> Iterator[TCPProxy]:
    with TCPProxy(make_url(POSTGRES).port or 5432) as p:
        yield p


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Overrides the tenant fixture's store: PostgreSQL through the proxy (the proxy speaks TCP), or, where a test
    asks for it indirectly, a SQLite file."""
    if getattr(request, "param", "postgres") == "sqlite":
        return f"sqlite:///{tmp_path / 'tagpin.db'}"
    proxy: TCPProxy = request.getfixturevalue("proxy")
    return proxy.url(request.getfixturevalue("postgres_url"))


@pytest.fixture
def direct(tenant: Tenant, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The test's own way into the tenant's database, around the proxy: what the deploy recorded, outage or not."""
    url = tenant.env["TAGPIN_DATABASE_URL"]
    store = Store(url if url.startswith("sqlite") else request.getfixturevalue("postgres_url"))
    yield store
    store.engine.dispose()


def _frontend_tag(tenant: Tenant) -> str:
    out = subprocess.run(["docker", "service", "inspect", f"{tenant.name}_frontend", "--format",
                          "{{.Spec.TaskTemplate.ContainerSpec.Image}}"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("@")[0].rsplit(":", 1)[1]


def _first_release(tenant: Tenant) -> None:
    for tag in ("1.9.3", "1.9.4"):
        tenant.push("frontend", tag)
    tenant.push("backend", "3.0.0")
    done = tenant.cli("deploy", tenant.name, "--yes", "--set", "frontend=1.9.3")
    assert done.returncode == 0, done.stderr


def _deploy_in_background(tenant: Tenant) -> subprocess.Popen[str]:
    return subprocess.Popen([str(Path(".venv/bin/tagpin").resolve()), "deploy", tenant.name, "--yes",
                             "--set", "frontend=1.9.4", "--json"], env=tenant.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _mid_deploy(tenant: Tenant, direct: Store, proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """Mid-deploy, reproducibly: the deployment row is "running" and Swarm has the new spec -- it is verifying."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.communicate()
        row = direct.latest_deployment(tenant.name)
        if row is not None and row.outcome == "running" and "1.9.4" in row.references \
                and _frontend_tag(tenant) == "1.9.4":
            return int(row.id or 0)
        assert time.monotonic() < deadline, "the deploy never applied"
        time.sleep(0.1)


def _log(tenant: Tenant) -> str:
    path = Path(tenant.env["HOME"]) / ".local" / "state" / "tagpin" / "errors.log"
    return path.read_text() if path.exists() else ""


def test_connections_cut_mid_deploy_by_a_restart_are_replaced_and_the_outcome_recorded(
        tenant: Tenant, proxy: TCPProxy, direct: Store) -> None:
    _first_release(tenant)
    # A heartbeat every 200 s: the deploy's own next write is the first to meet the dead connections.
    tenant.env["TAGPIN_LEASE_TTL"] = "600"
    proc = _deploy_in_background(tenant)
    deployment_id = _mid_deploy(tenant, direct, proc)
    assert proxy.cut() >= 1                       # the server restarted: every pooled connection is dead
    before = proxy.accepted
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == "" and "Traceback" not in _log(tenant)
    data = json.loads(out)
    assert (data["deployment_id"], data["outcome"]) == (deployment_id, "converged")
    assert proxy.accepted > before                # it went on over a fresh connection
    row = direct.deployment(deployment_id)
    assert row is not None and row.outcome == "converged" and row.finished_at is not None
    assert any(e.outcome == "converged" and e.deployment_id == deployment_id for e in direct.events(tenant.name))
    assert direct.live_lock(tenant.name) is None  # released, not left to expire


def _settle(tenant: Tenant, direct: Store, deployment_id: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = tenant.cli("status", tenant.name)
        assert status.returncode == 0, status.stderr
        row = direct.deployment(deployment_id)
        assert row is not None
        if row.outcome not in ("running", "interrupted"):
            assert f"reconciled deployment #{deployment_id}: {row.outcome}" in status.stdout, status.stdout
            return row.outcome
        assert time.monotonic() < deadline, "status never reconciled the deployment"
        time.sleep(1)


@pytest.mark.parametrize("outage", ["refuse", "hold"])
def test_a_database_away_from_mid_deploy_on_is_one_error_and_status_records_the_outcome_later(
        tenant: Tenant, proxy: TCPProxy, direct: Store, outage: str) -> None:
    _first_release(tenant)
    tenant.env["TAGPIN_LEASE_TTL"] = "3"
    proc = _deploy_in_background(tenant)
    deployment_id = _mid_deploy(tenant, direct, proc)
    proxy.pause("refuse" if outage == "refuse" else "hold")      # down (refused), or hanging (no answer)
    proxy.cut()
    started = time.monotonic()
    out, err = proc.communicate(timeout=180)
    assert time.monotonic() - started < 90, "a dead database must cost seconds (connect_timeout), not minutes"
    assert proc.returncode == 1, err
    (line,) = err.splitlines()
    assert line.startswith(f"error: deployment #{deployment_id} of {tenant.name}: its outcome could not be "
                           "recorded -- database error on "
                           f"postgresql+psycopg://tagpin:***@127.0.0.1:{proxy.port}/"), line
    assert line.endswith(f"once the database is back, `tagpin status {tenant.name}` records the real outcome"), line
    assert "tagpin:tagpin@" not in out + err and "Traceback" not in err + _log(tenant)
    data = json.loads(out)                                  # the deploy shape: which deployment, outcome unknown yet
    assert (data["kind"], data["outcome"], data["deployment_id"]) == ("OutcomeUnrecorded", "unrecorded",
                                                                       deployment_id), data
    row = direct.deployment(deployment_id)
    assert row is not None and row.outcome == "running"     # not pretended "failed": Swarm went on with it
    proxy.resume()
    # The lease it could not release expires by itself, unrenewed, within its TTL.
    expired = time.monotonic() + 10
    while direct.live_lock(tenant.name) is not None:
        assert time.monotonic() < expired, "the lease outlived its TTL"
        time.sleep(0.2)
    assert _settle(tenant, direct, deployment_id) == "converged" and _frontend_tag(tenant) == "1.9.4"
    assert any(e.command == "reconcile" and e.outcome == "converged" and e.deployment_id == deployment_id
               for e in direct.events(tenant.name))
    tenant.push("frontend", "1.9.5")
    again = tenant.cli("deploy", tenant.name, "--yes", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["outcome"] == "converged" and _frontend_tag(tenant) == "1.9.5"


def _swarm_version(tenant: Tenant) -> str:
    return subprocess.run(["docker", "service", "inspect", f"{tenant.name}_frontend", "--format", "{{.Version.Index}}"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("outage", ["refuse", "hold"])
def test_a_database_down_before_the_deploy_is_one_error_and_nothing_applied(
        tenant: Tenant, proxy: TCPProxy, direct: Store, outage: str) -> None:
    _first_release(tenant)
    version, latest = _swarm_version(tenant), direct.latest_deployment(tenant.name)
    proxy.pause("refuse" if outage == "refuse" else "hold")
    started = time.monotonic()
    done = tenant.cli("deploy", tenant.name, "--yes", "--set", "frontend=1.9.4", "--json", timeout=120)
    assert time.monotonic() - started < 45, "a dead database must cost seconds (connect_timeout), not minutes"
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and f"postgresql+psycopg://tagpin:***@127.0.0.1:{proxy.port}/" in line, line
    assert "tagpin:tagpin@" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["kind"] == "StoreError"
    assert _swarm_version(tenant) == version and _frontend_tag(tenant) == "1.9.3"      # Swarm untouched
    assert latest is not None and direct.latest_deployment(tenant.name).id == latest.id  # type: ignore[union-attr]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_file_locked_from_mid_deploy_on_is_the_same_one_error_and_status_settles_it(
        tenant: Tenant, direct: Store) -> None:
    _first_release(tenant)
    tenant.env["TAGPIN_LEASE_TTL"] = "3"
    proc = _deploy_in_background(tenant)
    deployment_id = _mid_deploy(tenant, direct, proc)
    locker = sqlite3.connect(tenant.env["TAGPIN_DATABASE_URL"].removeprefix("sqlite:///"), timeout=30)
    locker.execute("BEGIN EXCLUSIVE")             # another writer holds the file past the 30 s busy timeout
    try:
        _, err = proc.communicate(timeout=180)
    finally:
        locker.close()                            # closing without a commit rolls back: the file is free
    assert proc.returncode == 1, err
    (line,) = err.splitlines()
    assert line.startswith(f"error: deployment #{deployment_id} of {tenant.name}: its outcome could not be "
                           f"recorded -- database error on sqlite:///"), line
    assert "database is locked" in line and f"`tagpin status {tenant.name}`" in line, line
    time.sleep(3)                                 # the lease's TTL: it was not released either
    assert _settle(tenant, direct, deployment_id) == "converged"
