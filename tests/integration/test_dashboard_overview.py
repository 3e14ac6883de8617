"""A store's overview (issue 22 point 6): 7 and 30 days of invoices by status, amounts received, open invoices,
failing endpoints, dead-lettered deliveries and operator alerts, from one core read in a fixed number of queries."""

# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from gateway_core.accounts.members import create_store_for
from gateway_core.adapters.models import Delivery, Store, WorkerMetric
from gateway_core.stores.overview import Thresholds, store_overview
from tests.integration.dashboard_support import make_user, sign_in
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    create,
    napp,
    nclient,
    nsettings,
    nsvc,
    pay,
)

LIMITS = Thresholds(fee_payer_low_lamports=50_000_000, watch_max_lag=300, rate_max_age_seconds=120.0)


@contextmanager
def counted(engine: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _overview(nsvc, store_id: int) -> Any:
    with nsvc.uow(read_only=True) as uow:
        store = uow.session.get(Store, store_id)
        return store_overview(uow, store, nsvc.clock.now(), LIMITS)


def test_the_overview_counts_in_sql_and_shows_alerts(nsvc, nclient, clock) -> None:
    owner = make_user(nsvc, "owner@shop.test")
    with nsvc.uow() as uow:
        shop = create_store_for(uow, nsvc.vault, owner.id, name="Shop", network="sandbox")
    old = create(nclient, shop.api_key, external_invoice_id="old", amount="10.00")["invoice_number"]
    pay(nsvc, old)
    clock.advance(days=10)
    numbers = [create(nclient, shop.api_key, external_invoice_id=f"o{n}", amount="10.00")["invoice_number"]
               for n in range(3)]
    pay(nsvc, numbers[0])
    with counted(nsvc.engine) as few:
        _overview(nsvc, shop.id)
    for n in range(3, 7):
        create(nclient, shop.api_key, external_invoice_id=f"o{n}", amount="10.00")
    with counted(nsvc.engine) as more:
        overview = _overview(nsvc, shop.id)
    assert len(more) == len(few)  # grouped in SQL: the number of queries does not grow with the invoices

    week, month = overview.windows
    assert week.days == 7 and month.days == 30
    assert week.by_status.get("pending") == 6 and month.by_status.get("pending") == 6
    assert sum(week.by_status.values()) == 7 and sum(month.by_status.values()) == 8
    assert set(week.received) == {"SOL"} and month.received["SOL"] > week.received["SOL"] > 0
    paid = {s: c for s, c in week.by_status.items() if s != "pending"}
    assert sum(paid.values()) == 1
    assert overview.open_invoices == 6 and overview.alerts == [] and overview.failing_endpoints == []

    now = nsvc.clock.now()
    with nsvc.uow() as uow:
        uow.session.add_all([
            WorkerMetric(name="fee_payer_lamports", labels='{"network":"sandbox"}', worker="w", value=Decimal(1000),
                         updated_at=now),
            WorkerMetric(name="watcher_lag", labels='{"chain":"solana","network":"sandbox"}', worker="w",
                         value=Decimal(5000), updated_at=now),
            WorkerMetric(name="rate_age_seconds", labels='{"pair":"SOL/USD"}', worker="w", value=Decimal(900),
                         updated_at=now),
            WorkerMetric(name="watcher_lag", labels='{"chain":"tron","network":"mainnet"}', worker="w",
                         value=Decimal(5000), updated_at=now),
        ])
        uow.session.add(Delivery(store_id=shop.id, event_id="evt_dead", event_type="payment_completed",
                                 channel="email", recipient="x@shop.test", body="{}", status="dead",
                                 next_attempt_at=now, dead_at=now, created_at=now, updated_at=now))
    overview = _overview(nsvc, shop.id)
    assert [(a.kind, a.subject) for a in overview.alerts] == [
        ("fee_payer_low", "sandbox"), ("rates_unavailable", "SOL/USD"), ("watcher_behind", "solana")]
    assert overview.windows[0].dead_deliveries == 1

    sign_in(nclient, "owner@shop.test")
    answer = nclient.get(f"/dashboard/stores/{shop.id}/overview")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "style=" not in page and "<script" not in page
    assert '<svg class="dash-chart"' in page and 'class="chart-bar"' in page
    assert "Fee payer balance low on sandbox: 0.000001 SOL." in page and "Last 30 days" in page
    assert "SOL/USD" in page and "dead-lettered deliveries" in page
