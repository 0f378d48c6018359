"""Tenant labels and holds in the store: what selects tenants for a rollout and what narrows a tenant's policy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Field, SQLModel, col, select

from bot.adapters.store import Store
from bot.domain.freezes import Freeze, parse_window
from bot.domain.holds import Hold
from bot.domain.times import utcnow


class TenantLabel(SQLModel, table=True):
    __tablename__ = "tenant_labels"
    tenant: str = Field(primary_key=True, max_length=31)
    key: str = Field(primary_key=True, max_length=63)
    value: str = Field(max_length=63)


class TenantHold(SQLModel, table=True):
    __tablename__ = "tenant_holds"
    tenant: str = Field(primary_key=True, max_length=31)
    service: str = Field(primary_key=True, max_length=63)
    range: str = Field(max_length=200)
    reason: str = Field(max_length=500)
    held_by: str
    held_at: datetime = Field(default_factory=utcnow)


class TenantFreeze(SQLModel, table=True):
    __tablename__ = "tenant_freezes"
    tenant: str = Field(primary_key=True, max_length=31)
    name: str = Field(primary_key=True, max_length=63)
    window: str = Field(max_length=200)
    reason: str = Field(max_length=500)
    set_by: str
    set_at: datetime = Field(default_factory=utcnow)


def _freeze(row: TenantFreeze) -> Freeze:
    return Freeze(row.name, parse_window(row.window), row.tenant, row.reason, row.set_by, row.set_at)


def _hold(row: TenantHold) -> Hold:
    return Hold(row.tenant, row.service, row.range, row.reason, row.held_by, row.held_at)


class Fleet:
    """Labels (`tagpin tenants label`) and holds (`tagpin hold` / `unhold`), each change one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _by_tenant(self, model: Any, tenant: str | None) -> dict[str, list[Any]]:
        """The rows of `model` (a table keyed by tenant first) for one tenant or all (one query either way), grouped
        by tenant, in key order."""
        columns = model.__table__.primary_key.columns
        with self.store.session() as s:
            query = select(model).order_by(*columns)
            if tenant is not None:
                query = query.where(col(model.tenant) == tenant)
            out: dict[str, list[Any]] = {}
            for row in s.exec(query):
                out.setdefault(row.tenant, []).append(row)
            return out

    def labels(self, tenant: str | None = None) -> dict[str, dict[str, str]]:
        """{tenant: {key: value}}, for one tenant or all."""
        return {t: {r.key: r.value for r in rows} for t, rows in self._by_tenant(TenantLabel, tenant).items()}

    def label(self, tenant: str, put: Mapping[str, str], remove: set[str]) -> dict[str, str]:
        """Set `put` and drop `remove` (absent keys are no error); the tenant's labels after."""
        with self.store.session() as s:
            if remove:
                s.execute(delete(TenantLabel).where(col(TenantLabel.tenant) == tenant,
                                                    col(TenantLabel.key).in_(sorted(remove))))
            for key, value in put.items():
                row = s.get(TenantLabel, (tenant, key))
                if row is None:
                    s.add(TenantLabel(tenant=tenant, key=key, value=value))
                else:
                    row.value = value
                    s.add(row)
            s.commit()
        return self.labels(tenant).get(tenant, {})

    def holds(self, tenant: str | None = None) -> dict[str, dict[str, Hold]]:
        """{tenant: {service: hold}}, for one tenant or all."""
        return {t: {r.service: _hold(r) for r in rows} for t, rows in self._by_tenant(TenantHold, tenant).items()}

    def hold(self, tenant: str, service: str, range_: str, reason: str, by: str) -> tuple[Hold, Hold | None]:
        """Hold one service of a tenant (replacing a hold it had); the new hold and the one it replaced."""
        with self.store.session() as s:
            row = s.get(TenantHold, (tenant, service))
            before = _hold(row) if row is not None else None
            if row is None:
                row = TenantHold(tenant=tenant, service=service, range=range_, reason=reason, held_by=by)
            else:
                row.range, row.reason, row.held_by, row.held_at = range_, reason, by, utcnow()
            s.add(row)
            s.commit()
            s.refresh(row)
            return _hold(row), before

    def unhold(self, tenant: str, service: str) -> Hold | None:
        """Lift a hold; the hold that was lifted, None when there was none."""
        with self.store.session() as s:
            row = s.get(TenantHold, (tenant, service))
            if row is None:
                return None
            lifted = _hold(row)
            s.delete(row)
            s.commit()
            return lifted

    def freezes(self, tenant: str | None = None) -> dict[str, dict[str, Freeze]]:
        """{tenant: {name: freeze}}, for one tenant or all."""
        return {t: {r.name: _freeze(r) for r in rows} for t, rows in self._by_tenant(TenantFreeze, tenant).items()}

    def freeze(self, tenant: str, name: str, window: str, reason: str, by: str) -> tuple[Freeze, Freeze | None]:
        """Freeze a tenant in a window (replacing the freeze of that name); the new freeze and the one it replaced."""
        with self.store.session() as s:
            row = s.get(TenantFreeze, (tenant, name))
            before = _freeze(row) if row is not None else None
            if row is None:
                row = TenantFreeze(tenant=tenant, name=name, window=window, reason=reason, set_by=by)
            else:
                row.window, row.reason, row.set_by, row.set_at = window, reason, by, utcnow()
            s.add(row)
            s.commit()
            s.refresh(row)
            return _freeze(row), before

    def unfreeze(self, tenant: str, name: str | None) -> list[Freeze]:
        """Lift one freeze by name, or (None) every freeze of the tenant; what was lifted."""
        with self.store.session() as s:
            query = select(TenantFreeze).where(col(TenantFreeze.tenant) == tenant)
            if name is not None:
                query = query.where(col(TenantFreeze.name) == name)
            rows = list(s.exec(query.order_by(col(TenantFreeze.name))))
            lifted = [_freeze(r) for r in rows]
            for row in rows:
                s.delete(row)
            s.commit()
            return lifted
