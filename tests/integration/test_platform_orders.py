"""The one platform-order use case (gateway_core/invoices/platform_orders.py) that WooCommerce, Saleor and
Shopify share: one invoice per order, its link written before invoice.created (so that event's report to the
platform is queued once, with it), and duplicates resolved by the unique constraints."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from gateway_core.adapters.models import Delivery, Invoice, PlatformInstallation, PlatformOrder, Store
from gateway_core.bootstrap import Services
from gateway_core.domain.errors import InvalidState
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.insert import LinkTaken, PlatformLink
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.invoices.platform_orders import OrderInvoice, order_invoice
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store
from tests.conftest import tick

EVENTS = ["invoice.created", "invoice.paid", "invoice.cancelled"]


@pytest.fixture
def installation(services: Services) -> int:
    with services.uow() as uow:
        store = create_store(uow, services.vault, name="Woo", network="sandbox")
        row = PlatformInstallation(platform="woocommerce", account="https://shop.example", store_id=store.id,
                                   credentials_encrypted=services.vault.encrypt("{}"), data={})
        uow.session.add(row)
        uow.session.flush()
        return row.id


def _request(order: str, total: str = "25.00") -> InvoiceRequest:
    return InvoiceRequest(amount=Decimal(total), contract="woocommerce", platform="woocommerce",
                          external_id=f"woo:{order}:{total}")


def _open(services: Services, installation: int, order: str, total: str = "25.00") -> OrderInvoice:
    with services.uow() as uow:
        found = uow.session.get(PlatformInstallation, installation)
        assert found is not None
        store = uow.session.get(Store, found.store_id)
        assert store is not None
        return order_invoice(uow, services.invoicing, store, installation, order, _request(order, total),
                             lambda number: {"order_id": order, "number": number, "events": EVENTS})


def _count(services: Services, model: Any, *where: Any) -> int:
    with services.uow() as uow:
        return int(uow.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one())


def test_the_link_is_written_before_invoice_created_so_its_report_is_queued_once(services, installation) -> None:
    first = _open(services, installation, "101")
    again = _open(services, installation, "101")
    assert first.created and not again.created and again.invoice_id == first.invoice_id
    assert first.data == {"order_id": "101", "number": first.view.number, "events": EVENTS}
    assert _count(services, PlatformOrder) == 1 and _count(services, Invoice) == 1
    # One report of invoice.created to the platform, written by the create itself.
    assert _count(services, Delivery, Delivery.channel == "woocommerce",
                  Delivery.event_type == "invoice.created") == 1


def test_a_changed_order_gets_a_new_invoice_and_the_old_one_is_cancelled(services, installation) -> None:
    old = _open(services, installation, "102")
    new = _open(services, installation, "102", total="30.00")
    assert new.created and new.invoice_id != old.invoice_id
    with services.uow() as uow:
        link = uow.session.execute(sa.select(PlatformOrder)).scalar_one()
        assert link.invoice_id == new.invoice_id
        assert uow.session.get(Invoice, old.invoice_id).status == "cancelled"  # type: ignore[union-attr]
    # The new invoice's creation is reported to the order, through the moved link.
    assert _count(services, Delivery, Delivery.channel == "woocommerce", Delivery.event_type == "invoice.created",
                  Delivery.invoice_number == new.view.number) == 1


def test_an_order_whose_invoice_was_paid_cannot_change(services, installation, clock) -> None:
    paid = _open(services, installation, "103")
    with services.uow() as uow:
        simulate_payment(uow, paid.view.number, clock, "USDC")
    tick(services)  # the watcher records the payment
    with pytest.raises(InvalidState):
        _open(services, installation, "103", total="30.00")


def test_a_link_taken_first_by_another_request_rolls_back_to_before_the_invoice(services, installation) -> None:
    first = _open(services, installation, "104")
    with services.uow() as uow:
        store = uow.session.get(Store, first.view.store_id)
        assert store is not None
        link = PlatformLink(installation, "104", lambda number: {"number": number})
        with pytest.raises(LinkTaken), uow.session.begin_nested():
            create_invoice(uow, store, _request("104", "30.00"), services.invoicing, link=link)
    assert _count(services, Invoice) == 1 and _count(services, PlatformOrder) == 1


def test_concurrent_requests_for_one_order_make_one_invoice(services, installation) -> None:
    start = threading.Barrier(8)
    found: list[OrderInvoice] = []
    errors: list[BaseException] = []

    def shop() -> None:
        start.wait()
        try:
            found.append(_open(services, installation, "105"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=shop) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({f.invoice_id for f in found}) == 1 and sum(f.created for f in found) == 1
    assert _count(services, Invoice) == 1 and _count(services, PlatformOrder) == 1
