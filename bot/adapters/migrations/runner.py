"""Bring a store's schema to this tagpin's head revision: adopt a database made before Alembic, upgrade, or refuse.

One process migrates at a time (a PostgreSQL advisory lock, SQLite's write lock taken up front): others wait,
then find nothing left to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypedDict

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from bot.errors import StoreError

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
FIRST = "0001"                        # the schema create_all made before Alembic: tagpin_schema version 1
LOCK_KEY = 0x74616770696E             # "tagpin": PostgreSQL's advisory lock id for migrating


# "from" is a keyword, hence the functional form; up_to_date: nothing was written; adopted: a database made before
# Alembic, now recorded at revision FIRST.
MigrationJSON = TypedDict("MigrationJSON", {"database": str, "from": str | None, "to": str, "applied": list[str],
                                            "adopted": bool, "up_to_date": bool})


@dataclass(frozen=True)
class Migration:
    database: str
    before: str | None                # None: an empty database
    after: str
    applied: tuple[str, ...] = ()
    adopted: bool = False

    def as_dict(self) -> MigrationJSON:
        return {"database": self.database, "from": self.before, "to": self.after, "applied": list(self.applied),
                "adopted": self.adopted, "up_to_date": not self.applied and not self.adopted}


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(HERE))


def head() -> str:
    found = scripts().get_current_head()
    assert found is not None, "bot/adapters/migrations/versions has no revision"
    return found


def _state(conn: Connection) -> tuple[str | None, int | None]:
    """(the Alembic revision recorded, tagpin_schema's version): (None, None) is an empty database."""
    current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    legacy = None
    if inspect(conn).has_table("tagpin_schema"):
        legacy = conn.execute(text("SELECT version FROM tagpin_schema WHERE id = 1")).scalar_one_or_none()
    return current, legacy


def _exclusive(conn: Connection) -> None:
    """Hold the migration lock until this connection's transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")      # pysqlite would not begin before DDL on its own


def _run(conn: Connection, action: Callable[[Config, str], None], revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes.update(connection=conn, version_table=VERSION_TABLE)
    action(cfg, revision)


def migrate(engine: Engine, where: str, apply: bool = True) -> Migration:
    """Upgrade to head (apply) or only check that the database is there already (TAGPIN_MIGRATE=never)."""
    known, top = {s.revision for s in scripts().walk_revisions()}, head()
    with engine.connect() as conn:
        current, legacy = _state(conn)
        _refuse_newer(where, current, legacy, known, top)
        if current == top and (legacy == int(top) or not apply):
            return Migration(where, current, top)
        if not apply:
            raise StoreError(f"the database {where} is at schema revision {current or legacy or 'none (empty)'}; "
                             f"this tagpin needs {top} -- run `tagpin migrate` (TAGPIN_MIGRATE=never)")
        conn.rollback()
        _exclusive(conn)
        current, legacy = _state(conn)               # again, under the lock: another process may have done it
        _refuse_newer(where, current, legacy, known, top)
        adopted = current is None and legacy is not None
        if adopted:
            _run(conn, command.stamp, FIRST)
            current = FIRST
        applied = [s.revision for s in scripts().iterate_revisions(top, current or "base")]
        applied = [r for r in reversed(applied) if r != current]
        if applied:
            _run(conn, command.upgrade, top)
        conn.execute(text("DELETE FROM tagpin_schema"))
        conn.execute(text("INSERT INTO tagpin_schema (id, version) VALUES (1, :v)"), {"v": int(top)})
        conn.commit()
    return Migration(where, current, top, tuple(applied), adopted)


def _refuse_newer(where: str, current: str | None, legacy: int | None, known: set[str], top: str) -> None:
    if current is not None and current not in known:
        raise StoreError(f"the database {where} has schema revision {current}; this tagpin knows up to {top} "
                         "-- upgrade tagpin")
    if legacy is not None and legacy > int(top):
        raise StoreError(f"the database {where} has schema revision {legacy:04d}; this tagpin knows up to {top} "
                         "-- upgrade tagpin")
