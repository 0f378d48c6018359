"""Fleet rollouts in the store: a row per rollout and one per tenant step, written as the rollout goes, so a rollout
whose process was killed can be shown (`tagpin rollouts`) and resumed (`tagpin rollout --resume ID`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Field, SQLModel, col, select

from bot.adapters.store import Store
from bot.domain.rollouts import RolloutRecord, StepRecord
from bot.domain.stacks import Pin
from bot.domain.times import utcnow


class Rollout(SQLModel, table=True):
    __tablename__ = "rollouts"
    id: int | None = Field(default=None, primary_key=True)
    services: str                          # JSON list of the services it moves; "*": every one
    want: str                              # JSON {service: version or null}
    wave_spec: str = Field(max_length=200)
    digest: str = Field(max_length=64)
    actor: str
    status: str = Field(default="running", max_length=20, index=True)
    halted_at_wave: int | None = None
    message: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class RolloutStep(SQLModel, table=True):
    __tablename__ = "rollout_steps"
    rollout_id: int = Field(primary_key=True)
    tenant: str = Field(primary_key=True, max_length=31)
    position: int                          # the rollout's order: wave by wave, canary first
    wave: int
    pins: str                              # JSON {service: [tag, digest]}
    plan_digest: str = Field(max_length=64)
    state: str = Field(default="waiting", max_length=20)
    outcome: str | None = Field(default=None, max_length=40)
    message: str = ""
    deployment_id: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def _step(row: RolloutStep) -> StepRecord:
    pins = {name: Pin(tag, digest) for name, (tag, digest) in json.loads(row.pins).items()}
    return StepRecord(row.tenant, row.wave, pins, row.plan_digest, row.state, row.outcome, row.message,
                      row.deployment_id, row.started_at, row.finished_at)


def _record(row: Rollout, steps: Sequence[RolloutStep]) -> RolloutRecord:
    assert row.id is not None
    services = None if row.services == "*" else tuple(json.loads(row.services))
    return RolloutRecord(row.id, services, json.loads(row.want), row.wave_spec, row.digest, row.actor, row.status,
                         row.started_at, row.finished_at, row.halted_at_wave, row.message,
                         tuple(_step(s) for s in steps))


class Rollouts:
    """Each write one short transaction: what a rollout did is in the store before it goes on."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, services: Sequence[str] | None, want: Mapping[str, str | None], wave_spec: str, digest: str,
               actor: str, steps: Sequence[StepRecord]) -> int:
        """The rollout (running) and its steps (waiting), in one transaction; its id."""
        with self.store.session() as s:
            row = Rollout(services="*" if services is None else json.dumps(sorted(services)), want=json.dumps(
                dict(want), sort_keys=True), wave_spec=wave_spec, digest=digest, actor=actor)
            s.add(row)
            s.flush()
            assert row.id is not None
            for position, step in enumerate(steps):
                s.add(RolloutStep(rollout_id=row.id, tenant=step.tenant, position=position, wave=step.wave,
                                  pins=json.dumps({n: [p.tag, p.digest] for n, p in sorted(step.pins.items())}),
                                  plan_digest=step.plan_digest))
            s.commit()
            return row.id

    def get(self, rollout_id: int) -> RolloutRecord | None:
        with self.store.session() as s:
            row = s.get(Rollout, rollout_id)
            if row is None:
                return None
            steps = s.exec(select(RolloutStep).where(col(RolloutStep.rollout_id) == rollout_id)
                           .order_by(col(RolloutStep.position))).all()
            return _record(row, steps)

    def recent(self, limit: int = 20, status: str | None = None) -> list[RolloutRecord]:
        """The newest rollouts first (all of them when status is given: e.g. every one still running)."""
        with self.store.session() as s:
            query = select(Rollout).order_by(col(Rollout.id).desc())
            query = query.where(col(Rollout.status) == status) if status else query.limit(limit)
            rows = s.exec(query).all()
            ids = [r.id for r in rows]
            steps: dict[int, list[RolloutStep]] = {}
            if ids:
                for step in s.exec(select(RolloutStep).where(col(RolloutStep.rollout_id).in_(ids))
                                   .order_by(col(RolloutStep.position))):
                    steps.setdefault(step.rollout_id, []).append(step)
            return [_record(r, steps.get(r.id or 0, [])) for r in rows]

    def step_started(self, rollout_id: int, tenant: str) -> None:
        self._step(rollout_id, tenant, state="running", started_at=utcnow())

    def step_done(self, rollout_id: int, tenant: str, outcome: str, message: str,
                  deployment_id: int | None) -> None:
        self._step(rollout_id, tenant, state="done", outcome=outcome, message=message, deployment_id=deployment_id,
                   finished_at=utcnow())

    def _step(self, rollout_id: int, tenant: str, **values: object) -> None:
        with self.store.session() as s:
            s.execute(update(RolloutStep).where(col(RolloutStep.rollout_id) == rollout_id,
                                                col(RolloutStep.tenant) == tenant).values(**values))
            s.commit()

    def finish(self, rollout_id: int, status: str, message: str = "", halted_at_wave: int | None = None) -> None:
        with self.store.session() as s:
            s.execute(update(Rollout).where(col(Rollout.id) == rollout_id)
                      .values(status=status, message=message, halted_at_wave=halted_at_wave, finished_at=utcnow()))
            s.commit()
