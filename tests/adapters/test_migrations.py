"""Alembic migrations on real SQLite and PostgreSQL: adoption of a v1 database, a fresh one, refusals, two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, select, text
from sqlmodel import Session, SQLModel

from bot.adapters.confirmations import PendingConfirmation
from bot.adapters.fleet import TenantFreeze, TenantHold, TenantLabel
from bot.adapters.jobs import SlackJob
from bot.adapters.migrations.runner import head
from bot.adapters.models import (
    SCHEMA_VERSION,
    AuditEvent,
    Deployment,
    DriftScan,
    SchemaInfo,
    Tenant,
    TenantLock,
)
from bot.adapters.notices import DriftNotice
from bot.adapters.outbox import OutboxMessage
from bot.adapters.pushes import RegistryPush
from bot.adapters.releases import ReleaseSeen
from bot.adapters.rollouts import Rollout, RolloutStep
from bot.adapters.seen import SeenRequest
from bot.adapters.store import Store
from bot.config import Settings
from bot.domain.times import utcnow
from bot.errors import StoreError, UsageError

V1_MODELS = (SchemaInfo, Tenant, Deployment, AuditEvent, TenantLock, DriftScan, OutboxMessage, DriftNotice,
             PendingConfirmation, SeenRequest)
V1_TABLES: list[Table] = [m.__table__ for m in V1_MODELS]  # type: ignore[attr-defined]
TABLES: list[Table] = [*V1_TABLES, SlackJob.__table__,  # type: ignore[attr-defined]   # 0002
                       TenantLabel.__table__, TenantHold.__table__,  # type: ignore[attr-defined]   # 0003
                       Rollout.__table__, RolloutStep.__table__,  # type: ignore[attr-defined]   # 0004
                       ReleaseSeen.__table__,  # type: ignore[attr-defined]   # 0005
                       TenantFreeze.__table__,  # type: ignore[attr-defined]   # 0006
                       RegistryPush.__table__]  # type: ignore[attr-defined]   # 0007
NAMES = sorted(t.name for t in TABLES)
REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]


def make_v1(engine: Engine) -> None:
    """A database exactly as tagpin made it before Alembic: create_all, the schema row, a row in every table."""
    SQLModel.metadata.create_all(engine, tables=V1_TABLES)
    now = utcnow()
    with Session(engine) as s:
        s.add(SchemaInfo(id=1, version=1))
        s.add(Tenant(name="acme", created_by="alice"))
        s.add(Deployment(tenant="acme", actor="alice", command="deploy", outcome="converged", plan='{"a": 1}',
                         references='{"web": "r@sha256:1"}', compose="services: {}", seconds=1.5, finished_at=now))
        s.add(AuditEvent(actor="alice", command="deploy", tenant="acme", outcome="converged", detail="d",
                         deployment_id=1))
        s.add(TenantLock(tenant="acme", holder="alice", expires_at=now + timedelta(minutes=5), token="tok"))
        s.add(DriftScan(tenants=1, findings=2, source="watch"))
        s.add(OutboxMessage(channel="C1", text="hello", ts="1.2", attempts=1, posted_at=now))
        s.add(DriftNotice(tenant="acme", service="web", kind="behind", running="1.0.0", target="1.1.0",
                          channel="C2", stale=True, snoozed_until=now, snoozed_by="bob"))
        s.add(PendingConfirmation(id="c1", requester="U1", expires_at=123.5, body="{}"))
        s.add(SeenRequest(key="k1", expires_at=456.5))
        s.commit()


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in V1_TABLES}


def schema(engine: Engine) -> dict[str, Any]:
    """What reflection sees of each tagpin table: columns (name, type, nullable, default), indexes, PK, FKs."""
    insp = inspect(engine)
    return {name: ([(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in insp.get_columns(name)],
                   sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(name)),
                   insp.get_pk_constraint(name)["constrained_columns"], insp.get_foreign_keys(name),
                   insp.get_unique_constraints(name))
            for name in NAMES}


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_the_head_revision_is_the_schema_version_tagpin_schema_records() -> None:
    assert int(head()) == SCHEMA_VERSION


def test_a_v1_database_made_by_create_all_is_adopted_with_every_row_intact(database_url: str) -> None:
    store = Store(database_url)
    make_v1(store.engine)
    before = rows(store.engine)
    assert all(before.values()), before               # a row in every table, or the test proves less than it says
    done = store.migrate()
    assert done.as_dict() == {"database": store.safe_url, "from": "0001", "to": head(), "applied": REVISIONS[1:],
                              "adopted": True, "up_to_date": False}
    after = rows(store.engine)
    assert after.pop("tagpin_schema") == [(1, SCHEMA_VERSION)] and before.pop("tagpin_schema") == [(1, 1)]
    assert after == before
    assert sorted(inspect(store.engine).get_table_names()) == sorted([*NAMES, "alembic_version"])
    assert revision(store.engine) == head()
    assert store.migrate().as_dict()["up_to_date"] is True
    store.add_tenant("beta", "bob")                   # and the adopted store works
    assert [t.name for t in store.tenants()] == ["acme", "beta"]


def test_an_empty_database_is_built_from_revision_one(database_url: str) -> None:
    store = Store(database_url)
    done = store.migrate().as_dict()
    assert (done["from"], done["to"], done["applied"], done["adopted"]) == (None, head(), REVISIONS, False)
    assert sorted(inspect(store.engine).get_table_names()) == sorted([*NAMES, "alembic_version"])
    with store.session() as s:
        info = s.get(SchemaInfo, 1)
        assert info is not None and info.version == SCHEMA_VERSION
    assert store.migrate().as_dict()["up_to_date"] is True


def test_the_revisions_build_exactly_what_create_all_builds(database_url: str) -> None:
    """Same tables, columns, types, nullability, defaults, indexes and keys -- and autogenerate finds no difference."""
    store = Store(database_url)
    SQLModel.metadata.create_all(store.engine, tables=TABLES)
    made_by_create_all = schema(store.engine)
    SQLModel.metadata.drop_all(store.engine, tables=TABLES)
    store.migrate()
    assert schema(store.engine) == made_by_create_all
    wanted = MetaData()
    for table in TABLES:
        table.to_metadata(wanted)
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), wanted)
    assert [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")] == []


def test_a_database_at_a_revision_this_tagpin_does_not_know_is_refused_and_left_alone(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    before = rows(store.engine)
    with pytest.raises(StoreError, match=rf"has schema revision 0099; this tagpin knows up to {head()} -- upgrade "
                                         "tagpin"):
        store.migrate()
    with pytest.raises(StoreError, match="upgrade tagpin"):
        store.migrate(apply=False)
    assert revision(store.engine) == "0099" and rows(store.engine) == before


def test_never_checks_only_and_refuses_a_database_that_is_behind(database_url: str) -> None:
    store = Store(database_url)
    make_v1(store.engine)
    before = rows(store.engine)
    with pytest.raises(StoreError, match=r"run `tagpin migrate`"):
        store.migrate(apply=False)
    assert revision(store.engine) is None and rows(store.engine) == before
    store.migrate()
    assert store.migrate(apply=False).as_dict()["up_to_date"] is True


def test_a_bad_tagpin_migrate_is_a_usage_error() -> None:
    assert Settings.from_env({}).migrate == "auto"
    assert Settings.from_env({"TAGPIN_MIGRATE": "never"}).migrate == "never"
    with pytest.raises(UsageError, match="TAGPIN_MIGRATE must be auto or never, not 'sometimes'"):
        Settings.from_env({"TAGPIN_MIGRATE": "sometimes"})


def _tagpin(url: str, tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "TAGPIN_DATABASE_URL": url, "XDG_STATE_HOME": str(tmp_path), **env}
    return subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True, text=True, env=environ,
                          timeout=60)


def test_the_cli_under_never_refuses_until_tagpin_migrate_has_run(database_url: str, tmp_path: Path) -> None:
    refused = _tagpin(database_url, tmp_path, "tenants", "--json", TAGPIN_MIGRATE="never")
    assert refused.returncode == 1 and "run `tagpin migrate`" in refused.stderr, refused
    assert "tenants" not in inspect(Store(database_url).engine).get_table_names()   # nothing was created
    bad = _tagpin(database_url, tmp_path, "migrate", TAGPIN_MIGRATE="later")
    assert bad.returncode == 2 and bad.stderr.startswith("error: TAGPIN_MIGRATE must be auto or never"), bad
    done = _tagpin(database_url, tmp_path, "migrate", "--json", TAGPIN_MIGRATE="never")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["from"], data["to"], data["applied"], data["up_to_date"]) == (None, head(), REVISIONS, False)
    assert _tagpin(database_url, tmp_path, "tenants", "--json", TAGPIN_MIGRATE="never").returncode == 0
    again = _tagpin(database_url, tmp_path, "migrate")
    assert again.returncode == 0 and again.stdout.strip().endswith(f"up to date (schema revision {head()})"), again


def test_start_up_adopts_a_v1_database_and_tagpin_migrate_then_says_up_to_date(database_url: str,
                                                                              tmp_path: Path) -> None:
    make_v1(Store(database_url).engine)
    listed = _tagpin(database_url, tmp_path, "tenants", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["tenants"][0]["name"] == "acme", listed
    done = json.loads(_tagpin(database_url, tmp_path, "migrate", "--json").stdout)
    assert done["up_to_date"] is True and done["from"] == done["to"] == head()


MIGRATE_AT = ("import json, sys, time; from bot.adapters.store import Store; store = Store(sys.argv[1]); "
              "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); print(json.dumps(store.migrate().as_dict()))")


def test_two_processes_migrating_one_empty_database_at_once_both_succeed(database_url: str) -> None:
    start = time.time() + 4                            # both have imported everything by then and go together
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE_AT, database_url, str(start)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    results = [json.loads(out) for out, _ in outs]
    assert sorted(len(r["applied"]) for r in results) == [0, len(REVISIONS)], results  # one built, one found
    assert revision(Store(database_url).engine) == head()
