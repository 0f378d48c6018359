"""Client beacons (which app version each tenant's users load, which submits fail): validation, storage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, select

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
EVENTS = ("load", "submit_failed")


class InvalidBeacon(ValueError):
    """A beacon the service refuses; the message names the field."""


class StoreUnavailable(RuntimeError):
    """The beacon database cannot be opened or created; the message names the setting."""


class ClientBeacon(SQLModel, table=True):
    __tablename__ = "client_beacons"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(index=True)
    tenant: str = Field(index=True, max_length=64)
    app: str = Field(max_length=64)
    app_version: str = Field(max_length=64)
    event: str = Field(max_length=16)
    status: int | None = None
    user_agent: str | None = Field(default=None, max_length=256)


@dataclass(frozen=True)
class Beacon:
    tenant: str
    app: str
    app_version: str
    event: str
    status: int | None


def parse(payload: Any) -> Beacon:
    if not isinstance(payload, dict):
        raise InvalidBeacon("a beacon is a JSON object")
    for key, pattern in (("tenant", _NAME), ("app", _NAME), ("app_version", _VERSION)):
        value = payload.get(key)
        if not isinstance(value, str) or not pattern.match(value):
            raise InvalidBeacon(f"{key} must be 1-64 letters, digits, '.', '_' or '-' (got {value!r:.80})")
    event, status = payload.get("event"), payload.get("status")
    if event not in EVENTS:
        raise InvalidBeacon(f"event must be one of {', '.join(EVENTS)} (got {event!r:.40})")
    if event == "submit_failed":
        # bool is an int in Python; a status of true is a client bug, not HTTP 1.
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise InvalidBeacon(f"a submit_failed beacon needs an HTTP status 100-599 (got {status!r:.40})")
    elif status is not None:
        raise InvalidBeacon("a load beacon has no status")
    return Beacon(
        str(payload["tenant"]), str(payload["app"]), str(payload["app_version"]), str(event), status
    )


class BeaconStore:
    def __init__(self, database_url: str) -> None:
        # SQLite connections are shared across the server's threads; SQLAlchemy's pool serialises their use.
        args = {"check_same_thread": False} if database_url.startswith("sqlite") else {}
        self.engine: Engine = create_engine(database_url, connect_args=args)
        try:
            SQLModel.metadata.create_all(self.engine, tables=[ClientBeacon.__table__])  # type: ignore[attr-defined]
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"cannot open the beacon database {self.engine.url!r} (TAGPIN_RECOVERY_DATABASE_URL): "
                f"{getattr(exc, 'orig', None) or exc}"
            ) from exc

    def add(self, beacon: Beacon, user_agent: str | None) -> int:
        row = ClientBeacon(
            received_at=datetime.now(UTC), tenant=beacon.tenant, app=beacon.app,
            app_version=beacon.app_version, event=beacon.event, status=beacon.status,
            user_agent=(user_agent or "")[:256] or None,
        )
        with Session(self.engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
            assert row.id is not None
            return row.id

    def recent(self, tenant: str | None = None, limit: int = 100) -> list[ClientBeacon]:
        query = select(ClientBeacon).order_by(ClientBeacon.id.desc()).limit(limit)  # type: ignore[union-attr]
        if tenant is not None:
            query = query.where(ClientBeacon.tenant == tenant)
        with Session(self.engine) as session:
            return list(session.exec(query))

    def close(self) -> None:
        self.engine.dispose()
