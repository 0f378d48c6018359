"""x-tagpin min_age on the real Swarm and registry, SQLite and Postgres: a release younger than it (by its build
time or by when tagpin first saw it, whichever is later) is passed over by deploys, drift and rollouts -- and the
plan says which age counted; a version named explicitly is not held back; a bad min_age is refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.e2e.conftest import Tenant

POLICY = 'x-tagpin: {constraint: ">=1.0.0 <2.0.0"}'


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _frontend(tenant: Tenant) -> str | None:
    spec = tenant.fresh_context().swarm.stack(tenant.name)["frontend"].spec
    return spec.tag if spec else None


def test_min_age_passes_over_young_releases_and_says_which_age_counted(tenant: Tenant) -> None:
    tenant.template.write_text(tenant.template.read_text().replace(
        POLICY, 'x-tagpin: {constraint: ">=1.0.0 <2.0.0", min_age: 2h}'))
    now = datetime.now(UTC)
    ctx = tenant.fresh_context()
    repo = tenant.image("frontend")
    old = tenant.push("frontend", "1.4.0", created=_iso(now - timedelta(hours=5)))
    ctx.tables.releases.first_seen(repo, old, now - timedelta(hours=5))           # tagpin has known it for 5 h
    seen_now = tenant.push("frontend", "1.5.0", created=_iso(now - timedelta(hours=3)))   # built 3 h ago, new here
    built_now = tenant.push("frontend", "1.6.0", created=_iso(now - timedelta(minutes=10)))
    ctx.tables.releases.first_seen(repo, built_now, now - timedelta(hours=5))     # known long, but built just now
    tenant.push("backend", "3.0.0")                                                 # no min_age: latest wins

    done = tenant.cli("deploy", tenant.name, "--yes", "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    data = json.loads(done.stdout)
    assert data["outcome"] == "converged" and _frontend(tenant) == "1.4.0", data
    assert re.search(r"frontend: 1\.6\.0 skipped, too young: built 1[01] min ago, first seen by tagpin "
                     r"(5 h 0|4 h 59) min ago \(min_age 2h: built counts; old enough at [-0-9]+ [0-9:]+ UTC\); "
                     r"1\.4\.0 chosen", data["message"]), data["message"]
    assert re.search(r"frontend: 1\.5\.0 skipped, too young: built (3 h 0|2 h 59) min ago, first seen by tagpin "
                     r"\d+ s ago \(min_age 2h: first seen by tagpin counts; old enough at ", data["message"]), \
        data["message"]

    drift = json.loads(tenant.cli("drift", tenant.name, "--json").stdout)
    assert [f for f in drift["findings"] if f["service"] == "frontend"] == [], drift   # 1.4.0 is the newest old one
    with ctx.store.engine.begin() as conn:                                  # 3 hours pass for 1.5.0
        conn.execute(text("UPDATE releases_seen SET first_seen = :t WHERE digest = :d"),
                     {"t": now - timedelta(hours=3), "d": seen_now})
    drift = json.loads(tenant.cli("drift", tenant.name, "--json").stdout)
    behind = [f for f in drift["findings"] if f["service"] == "frontend"]
    assert [f["kind"] for f in behind] == ["behind"] and ":1.5.0@" in str(behind[0]["target"]), drift

    plan = json.loads(tenant.cli("rollout", "--dry-run", "--json", "--waves", "100%").stdout)
    (step,) = plan["waves"][0]["tenants"]
    assert [(c["service"], c["to"].split("@")[0].rsplit(":", 1)[1]) for c in step["changes"]] == [("frontend", "1.5.0")]
    named = tenant.cli("deploy", tenant.name, "--set", "frontend=1.6.0", "--yes", "--json")  # named: not held back
    assert named.returncode == 0 and _frontend(tenant) == "1.6.0", named.stdout


def test_a_bad_min_age_is_refused_and_nothing_is_deployed(tenant: Tenant) -> None:
    tenant.template.write_text(tenant.template.read_text().replace(
        POLICY, 'x-tagpin: {constraint: ">=1.0.0 <2.0.0", min_age: soon}'))
    tenant.push("frontend", "1.4.0")
    tenant.push("backend", "3.0.0")
    done = tenant.cli("deploy", tenant.name, "--yes")
    assert done.returncode == 2 and "min_age must be a duration such as 2h, 30m, 1d or 1h30m, not 'soon'" \
        in done.stderr, done.stderr
    assert tenant.fresh_context().swarm.stack(tenant.name) == {}
