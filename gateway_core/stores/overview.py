"""A store's overview (issue 22 point 6): the last 7 and 30 days in a handful of GROUP BY queries, never a
loop over invoices, plus the operator alerts the workers' published figures raise."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Delivery, Invoice, Payment, Store, WorkerMetric
from gateway_core.domain.lifecycle import OPEN
from gateway_core.domain.money import ASSETS, FIAT_EXPONENTS
from gateway_core.notifications.delivery_log import endpoint_stats

WINDOWS = (7, 30)
RECEIVED = ("paid", "confirmed", "settled")  # the invoices whose price counts as received
NOT_MONEY = ("dropped", "failed")  # payment dispositions that moved nothing
FRESH = timedelta(minutes=10)  # a worker figure older than this says nothing about now
# The workers' published figures (gateway_core.telemetry names them), read from their table: worker_status
# sits above the features, so this reads the rows rather than importing it.
FEE_PAYER, LAG, RATE_AGE, HEARTBEAT = "fee_payer_lamports", "watcher_lag", "rate_age_seconds", "worker_heartbeat"


@dataclass(frozen=True)
class Thresholds:
    fee_payer_low_lamports: int
    watch_max_lag: int
    rate_max_age_seconds: float


@dataclass(frozen=True)
class Window:
    days: int
    by_status: dict[str, int]
    received: dict[str, Decimal]  # per asset, in the asset's units
    received_fiat: dict[str, Decimal]  # per fiat currency, the received invoices' prices
    dead_deliveries: int


@dataclass(frozen=True)
class Alert:
    kind: str  # fee_payer_low | watcher_behind | rates_unavailable | worker_silent
    subject: str
    value: Decimal | None = None


@dataclass(frozen=True)
class Overview:
    windows: list[Window]
    open_invoices: int
    failing_endpoints: list[str]
    alerts: list[Alert] = field(default_factory=list)


def _window(uow: UnitOfWork, store_id: int, since: datetime, days: int) -> Window:
    session = uow.session
    by_status = dict(session.execute(
        select(Invoice.status, func.count()).where(Invoice.store_id == store_id, Invoice.created_at >= since)
        .group_by(Invoice.status)).all())
    received = {}
    for code, units in session.execute(
            select(Payment.asset, func.sum(Payment.amount)).join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Invoice.store_id == store_id, Payment.seen_at >= since, Payment.disposition.notin_(NOT_MONEY))
            .group_by(Payment.asset)).all():
        decimals = ASSETS[code].decimals if code in ASSETS else 0
        received[code] = Decimal(int(units or 0)).scaleb(-decimals)
    fiat = {}
    for currency, minor in session.execute(
            select(Invoice.fiat_currency, func.sum(Invoice.fiat_minor))
            .where(Invoice.store_id == store_id, Invoice.paid_at >= since, Invoice.status.in_(RECEIVED))
            .group_by(Invoice.fiat_currency)).all():
        fiat[currency] = Decimal(int(minor or 0)).scaleb(-FIAT_EXPONENTS.get(currency, 2))
    dead = session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.store_id == store_id, Delivery.status == "dead", Delivery.dead_at >= since)).scalar_one()
    return Window(days, {str(k): int(v) for k, v in by_status.items()}, received, fiat, int(dead))


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros or an exponent: 0.000001, not 0.000001000 or 1E-6."""
    return Decimal(format(value.normalize(), "f"))


def operator_alerts(uow: UnitOfWork, network: str, now: datetime, limits: Thresholds) -> list[Alert]:
    """What the workers last published that needs an operator: fee payer low, a watcher behind, stale rates."""
    alerts = []
    rows = uow.session.execute(select(WorkerMetric.name, WorkerMetric.labels, WorkerMetric.value).where(
        WorkerMetric.name.in_((FEE_PAYER, LAG, RATE_AGE)), WorkerMetric.updated_at >= now - FRESH)).all()
    for name, encoded, value in rows:
        labels = json.loads(encoded)
        if name == FEE_PAYER and labels.get("network") == network and value < limits.fee_payer_low_lamports:
            alerts.append(Alert("fee_payer_low", network, _plain(Decimal(value).scaleb(-9))))
        elif name == LAG and labels.get("network") == network and value > limits.watch_max_lag:
            alerts.append(Alert("watcher_behind", labels.get("chain", "?"), Decimal(value)))
        elif name == RATE_AGE and value > Decimal(str(limits.rate_max_age_seconds)):
            alerts.append(Alert("rates_unavailable", labels.get("pair", "?"), Decimal(value)))
    if network != "sandbox" and uow.session.execute(select(func.count()).select_from(WorkerMetric).where(
            WorkerMetric.name == HEARTBEAT, WorkerMetric.updated_at >= now - FRESH)).scalar_one() == 0:
        alerts.append(Alert("worker_silent", network))
    return sorted(alerts, key=lambda a: (a.kind, a.subject))


def store_overview(uow: UnitOfWork, store: Store, now: datetime, limits: Thresholds) -> Overview:
    """The store's last 7 and 30 days, its open invoices, failing endpoints and the operator alerts."""
    windows = [_window(uow, store.id, now - timedelta(days=days), days) for days in WINDOWS]
    open_count = uow.session.execute(select(func.count()).select_from(Invoice).where(
        Invoice.store_id == store.id, Invoice.status.in_(sorted(s.value for s in OPEN)))).scalar_one()
    failing = [e["url"] for e in endpoint_stats(uow, store) if e["health"] == "failing"]
    return Overview(windows, int(open_count), failing, operator_alerts(uow, store.network, now, limits))
