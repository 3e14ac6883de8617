"""Workers' heartbeats and published figures (issue 23): written by each worker every tick, read by
/metrics and /readyz in any process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select, update

from gateway_core import telemetry
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import WorkerMetric

HEARTBEAT = "worker_heartbeat"
LAG = "watcher_lag"
# A worker gone this long has its rows removed by the next publisher, so dead workers' figures fade out.
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Figure:
    name: str
    labels: dict[str, str]
    worker: str
    value: Decimal
    updated_at: datetime


def publish(uow: UnitOfWork, worker: str, now: datetime) -> None:
    """This worker's heartbeat and every figure its adapters recorded, one row each (upserted)."""
    samples, stale = telemetry.publish_round()
    samples[(HEARTBEAT, ())] = Decimal(int(now.timestamp()))
    session = uow.session
    for name, labels in stale:
        session.execute(delete(WorkerMetric).where(
            WorkerMetric.name == name, WorkerMetric.labels == _encoded(labels), WorkerMetric.worker == worker))
    for (name, labels), value in samples.items():
        encoded = _encoded(labels)
        changed = session.execute(
            update(WorkerMetric)
            .where(WorkerMetric.name == name, WorkerMetric.labels == encoded, WorkerMetric.worker == worker)
            .values(value=value, updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not changed:
            session.add(WorkerMetric(name=name, labels=encoded, worker=worker, value=value, updated_at=now))
    session.execute(delete(WorkerMetric).where(WorkerMetric.updated_at < now - FORGET_AFTER))


def _encoded(labels: telemetry.Labels) -> str:
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


def figures(uow: UnitOfWork) -> list[Figure]:
    """Every published figure, of every worker."""
    rows = uow.session.scalars(select(WorkerMetric).order_by(WorkerMetric.name, WorkerMetric.labels)).all()
    return [Figure(r.name, json.loads(r.labels), r.worker, r.value, r.updated_at) for r in rows]


def last_heartbeat(uow: UnitOfWork) -> datetime | None:
    """When any worker last ticked."""
    return uow.session.scalar(select(func.max(WorkerMetric.updated_at)).where(WorkerMetric.name == HEARTBEAT))


def lagging_watchers(uow: UnitOfWork, max_lag: int, since: datetime) -> list[Figure]:
    """Watchers (chain, network) further behind their chain's head than max_lag at a recent tick."""
    return [f for f in figures(uow) if f.name == LAG and f.updated_at >= since and f.value > max_lag]
