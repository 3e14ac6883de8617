"""What the worker keeps between ticks: its published figures and the items it parked to retry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway_core.adapters.models.base import Base, ExactJSON


class WorkerMetric(Base):
    """A figure a worker published at its last tick (issue 23): its heartbeat, watcher lag, RPC counters."""

    __tablename__ = "worker_metrics"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Canonical JSON of the labels ({} for none), so one row per (name, labels, worker).
    labels: Mapped[str] = mapped_column(String(255), primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Decimal] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(index=True)


class ParkedItem(Base):
    """Work the worker could not do for one item (a transfer, an invoice's finality or expiry), kept to retry.

    A failure is parked here, with its backoff, instead of stopping the tick for every other item; a transfer
    parked here is safe to read past (the chain cursor advances), because its facts are in `payload`.
    """

    __tablename__ = "parked_items"
    __table_args__ = (UniqueConstraint("kind", "item_key"), Index("ix_parked_items_due", "kind", "next_try_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # transfer | finality | expiry
    scope: Mapped[str] = mapped_column(String(64), default="")  # chain:network for transfers
    item_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str] = mapped_column(Text, default="")
    first_failed_at: Mapped[datetime] = mapped_column()
    next_try_at: Mapped[datetime] = mapped_column()
