"""Bad input to the CLI: one specific `error:` line, a non-zero exit, nothing changed, never a traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import required

TAGPIN = str(Path(".venv/bin/tagpin").resolve())
NAMESPACE = "com.docker.stack.namespace"
GOOD = """\
version: "3.8"
services:
  web:
    image: 127.0.0.1:5000/acme/web
"""


def run(tmp_path: Path, *argv: str, template: str | None = GOOD, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAGPIN_")}
    base.update({"HOME": str(tmp_path), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"})
    if template is not None:
        path = tmp_path / "stack.yml"
        path.write_text(template)
        base["TAGPIN_STACK_TEMPLATE"] = str(path)
    base.update(env)
    return subprocess.run([TAGPIN, *argv], capture_output=True, text=True, env=base, timeout=60, check=False)


def refused(done: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert needle in lines[0], lines[0]


def rows(database: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the schema markers (tagpin_schema, alembic_version), read with sqlite3 itself
    (not the store under test)."""
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {t: [dict(r) for r in db.execute(f'SELECT * FROM "{t}"')] for t in tables
                 if t not in ("tagpin_schema", "alembic_version")}
    return {table: found[table] for table in found if found[table]}


def stacks(names: Iterable[str]) -> dict[str, list[tuple[str, int]]] | None:
    """Each named stack's services, (id, spec version) -- a deploy or rollback changes one or the other; None when
    no Swarm answers (then the command could not reach one either: it gets the same DOCKER_HOST)."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        try:
            return {name: sorted((str(s.id), int(s.attrs["Version"]["Index"]))
                                 for s in client.services.list(filters={"label": f"{NAMESPACE}={name}"}))
                    for name in sorted(set(names))}
        finally:
            client.close()
    except docker.errors.DockerException as exc:
        if "swarm" in required():
            pytest.fail(f"swarm unavailable: {exc}; TAGPIN_REQUIRE demands it", pytrace=False)
        return None


def remove_stack(name: str) -> None:
    """The test's own tenant's stack, if a refused command made one (its name is unique to the test)."""
    import docker

    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException:
        return
    try:
        for service in client.services.list(filters={"label": f"{NAMESPACE}={name}"}):
            service.remove()  # type: ignore[no-untyped-call]
    finally:
        client.close()


# TENANT stands for a valid tenant name unique to the test, so the Swarm check sees no one else's stack.
# `audited`: (command, kind) of the one audit row a refusal writes, or None when the command is refused before any
# tenant's trail is opened (bad arguments, an invalid tenant name) and the database is left as it was.
@pytest.mark.parametrize(("argv", "template", "code", "needle", "audited"), [
    (["deploy", "Acme"], GOOD, 2, "^[a-z][a-z0-9-]{0,30}$", None),
    (["deploy", "TENANT"], None, 1, "TAGPIN_STACK_TEMPLATE", ("deploy", "StackError")),
    (["deploy", "TENANT"], "version: '3.8'\nservices: [oops", 1, "not valid YAML", ("deploy", "StackError")),
    (["deploy", "TENANT"], GOOD.replace("acme/web\n", "acme/web\n    x-tagpin: {constrant: '^1'}\n"), 2,
     "constrant", ("deploy", "PolicyError")),
    (["deploy", "TENANT"], GOOD.replace("acme/web\n", "acme/web:latest\n"), 1, "latest", ("deploy", "StackError")),
    (["deploy", "TENANT"], GOOD + "    environment: {HOME: '${HOME}'}\n", 1, "HOME", ("deploy", "StackError")),
    (["deploy", "TENANT", "--set", "web"], GOOD, 2, "SERVICE=TAG", None),
    (["audit", "--limit", "0"], GOOD, 2, "at least 1", None),
    (["rollback", "TENANT"], GOOD, 1, "no earlier converged deployment", ("rollback", "NotFound")),
    (["drift", "Bad_Tenant"], GOOD, 2, "tenant", None),
])
def test_refused_with_one_line_and_nothing_changed(tmp_path: Path, unique: str, argv: list[str],
                                                   template: str | None, code: int, needle: str,
                                                   audited: tuple[str, str] | None) -> None:
    tenant = f"bad{unique}"
    argv = [tenant if word == "TENANT" else word for word in argv]
    named = {tenant, *(word for word in argv[1:2] if not word.startswith("-"))}
    before = stacks(named)
    try:
        done = run(tmp_path, *argv, template=template)
        refused(done, code, needle)
        after = rows(tmp_path / "tagpin.db")
        audit = after.pop("audit_events", [])
        # No deployment, tenant lease, outbox message, parked confirmation, tenant, scan or notice: nothing but
        # the refusal's own audit row.
        assert after == {}, after
        if audited is None:
            assert audit == []
        else:
            assert len(audit) == 1, audit                       # one refusal, one row
            row = audit[0]
            assert (row["command"], row["tenant"], row["outcome"], row["deployment_id"]) == (audited[0], tenant,
                                                                                            "refused", None)
            detail = json.loads(row["detail"])
            said = done.stderr.strip().removeprefix("error: ")     # the one line is the error with newlines folded
            assert (" ".join(detail.pop("error").split()), detail) == (" ".join(said.split()), {"kind": audited[1]})
        assert stacks(named) == before                      # no stack created, updated or removed on the Swarm
    finally:
        remove_stack(tenant)


def test_json_errors_are_one_object_on_stdout(tmp_path: Path) -> None:
    done = run(tmp_path, "audit", "--limit", "0", "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"error": done.stderr.strip().removeprefix("error: "), "kind": "UsageError"}
    refused = run(tmp_path, "deploy", "Acme", "--json")
    assert refused.returncode == 2
    assert json.loads(refused.stdout) == {
        "tenant": "Acme", "deployment_id": None, "outcome": "refused", "services": [], "risks": [], "compose": "",
        "error": refused.stderr.strip().removeprefix("error: "), "kind": "UsageError"}


def test_bad_settings_are_named(tmp_path: Path) -> None:
    refused(run(tmp_path, "tenants", TAGPIN_CONVERGE_TIMEOUT="soon"), 2, "TAGPIN_CONVERGE_TIMEOUT")
    refused(run(tmp_path, "tenants", TAGPIN_DATABASE_URL="nosuchdb://x"), 1, "database")
