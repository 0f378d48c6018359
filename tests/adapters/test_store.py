"""The store on a real SQLite file: schema, audit trail, deployments, and the per-tenant lock across processes."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.adapters.models import SCHEMA_VERSION, SchemaInfo
from bot.adapters.store import Store
from bot.errors import LeaseLost, LockHeld, StoreError


@pytest.fixture
def store(database_url: str) -> Store:
    s = Store(database_url)
    s.migrate()
    return s


def test_migrate_is_idempotent_and_refuses_a_newer_schema(store: Store) -> None:
    store.migrate()
    with store.session() as s:
        info = s.get(SchemaInfo, 1)
        assert info is not None and info.version == SCHEMA_VERSION
        info.version = SCHEMA_VERSION + 1
        s.add(info)
        s.commit()
    with pytest.raises(StoreError, match="upgrade tagpin"):
        store.migrate()


def test_audit_events_newest_first_filtered_by_tenant(store: Store) -> None:
    store.audit("alice", "deploy", "acme", "converged", {"to": "1.10.0"})
    store.audit("bob", "status", "other", "ok")
    store.audit("carol", "deploy", "acme", "refused", "validator: latest")
    events = store.events("acme")
    assert [e.actor for e in events] == ["carol", "alice"]
    assert events[1].detail == '{"to": "1.10.0"}'
    assert len(store.events(limit=1)) == 1


def test_converged_deployments_newest_first(store: Store) -> None:
    a = store.start_deployment(tenant="acme", actor="a", command="deploy")
    assert a.id is not None
    store.update_deployment(a.id, outcome="converged", references='{"web": "r1"}')
    b = store.start_deployment(tenant="acme", actor="a", command="deploy")
    assert b.id is not None
    store.update_deployment(b.id, outcome="failed")
    c = store.start_deployment(tenant="acme", actor="a", command="deploy")
    assert c.id is not None
    done = store.update_deployment(c.id, outcome="converged")
    assert done.finished_at is not None
    assert [d.id for d in store.converged("acme")] == [c.id, a.id]


def test_lock_names_its_holder_and_is_released(store: Store) -> None:
    token = store.acquire("acme", "alice", ttl=60, deployment_id=41)
    with pytest.raises(LockHeld, match=r"acme is being deployed by alice since .* \(deployment #41\)"):
        store.acquire("acme", "bob", ttl=60)
    store.release("acme", "wrong-token")
    with pytest.raises(LockHeld):
        store.acquire("acme", "bob", ttl=60)
    store.release("acme", token)
    store.release("acme", store.acquire("acme", "bob", ttl=60))


def test_an_expired_lock_is_taken_over(store: Store) -> None:
    store.acquire("acme", "crashed-process", ttl=-1)
    token = store.acquire("acme", "bob", ttl=60)
    with pytest.raises(LockHeld, match="bob"):
        store.acquire("acme", "carol", ttl=60)
    store.release("acme", token)


def _contend(url: str, name: str, results: multiprocessing.Queue[str]) -> None:
    s = Store(url)
    try:
        s.acquire("acme", name, ttl=60)
        results.put(f"won:{name}")
    except LockHeld as exc:
        results.put(f"lost:{exc}")


def test_two_processes_exclude_each_other(database_url: str) -> None:
    url = database_url
    Store(url).migrate()
    results: multiprocessing.Queue[str] = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_contend, args=(url, f"p{i}", results)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    outcomes = [results.get(timeout=5) for _ in procs]
    assert sum(o.startswith("won:") for o in outcomes) == 1, outcomes
    # No deployment attached yet: the holder is only planning, and the refusal says so.
    assert all("is being planned by p" in o for o in outcomes if o.startswith("lost:"))


def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    with pytest.raises(StoreError, match="cannot create the schema"):
        store.migrate()


def test_a_postgres_that_is_down_is_one_clear_store_error_without_its_password() -> None:
    started = time.monotonic()
    store = Store("postgresql+psycopg://tagpin:s3cret@127.0.0.1:1/tagpin")     # a closed port on loopback
    with pytest.raises(StoreError) as caught:
        store.migrate()
    message = str(caught.value)
    assert message.startswith("cannot create the schema in postgresql+psycopg://tagpin:***@127.0.0.1:1/tagpin")
    assert "s3cret" not in message and "\n" not in message and time.monotonic() - started < 15


def test_taking_over_an_expired_lock_leaves_its_deployment_to_reconciliation(store: Store) -> None:
    # Only Swarm can say whether an abandoned deploy finished: the lock does not guess (tests/faults does it).
    row = store.start_deployment(tenant="acme", actor="alice", command="deploy")
    assert row.id is not None
    store.acquire("acme", "alice", ttl=-1, deployment_id=row.id)
    store.release("acme", store.acquire("acme", "bob", ttl=60))
    assert [d.id for d in store.unsettled("acme")] == [row.id]


def test_a_lease_is_renewed_while_held_and_fenced_once_taken_over(store: Store) -> None:
    lease = store.lease("acme", "alice", ttl=0.6)
    try:
        time.sleep(1.5)                                 # 2.5 TTLs: only the heartbeat keeps it alive
        with pytest.raises(LockHeld, match="being planned by alice"):
            store.acquire("acme", "bob", ttl=60)
        lease.check("applying")
        lease.attach(7)
        with pytest.raises(LockHeld, match=r"being deployed by alice .*\(deployment #7\)"):
            store.acquire("acme", "bob", ttl=60)
        store.release("acme", lease.token)              # as if it had expired and bob took over
        bob = store.acquire("acme", "bob", ttl=60)
        with pytest.raises(LeaseLost, match="stopped before applying"):
            lease.check("applying")
        assert store.holds("acme", bob)
    finally:
        lease.release()
    assert store.holds("acme", bob)                     # alice's release leaves bob's lease alone


def test_one_migrate_creates_every_table_in_a_fresh_process(database_url: str) -> None:
    """Start-up migrates once: the features' tables exist before any of them is used (no table on first use)."""
    url = database_url
    script = ("import sys; from sqlalchemy import inspect; from bot.adapters.store import Store; "
              "s = Store(sys.argv[1]); s.migrate(); print(','.join(sorted(inspect(s.engine).get_table_names())))")
    done = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, check=True)
    assert done.stdout.strip().split(",") == sorted([
        "alembic_version", "audit_events", "deployments", "drift_notices", "drift_scans", "pending_confirmations",
        "registry_pushes", "releases_seen", "rollout_steps", "rollouts", "seen_requests", "slack_jobs", "slack_outbox",
        "tagpin_schema", "tenant_freezes", "tenant_holds", "tenant_labels", "tenant_locks", "tenants"])
