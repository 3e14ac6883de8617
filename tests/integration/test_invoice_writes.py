"""The two ways a new invoice is written (Core INSERTs on the hot path, the ORM where allocation needs it)
must leave the same rows behind: the view, the payment page and the watchers read them alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from gateway_core.adapters.models import Event, Invoice, Quote, Store
from gateway_core.bootstrap import Services
from gateway_core.services.invoices import InvoiceRequest, create_invoice
from gateway_core.services.stores import create_store

# Differ by construction between any two invoices: identities, random numbers and addresses.
PER_INVOICE = {"id", "number", "store_id", "invoice_id", "reference", "address", "event_id", "external_id"}


def _rows(services: Services, model: type[Any], invoice_id: int, key: str = "invoice_id") -> list[dict[str, Any]]:
    with services.uow() as uow:
        table = model.__table__
        rows = uow.session.execute(sa.select(table).where(table.c[key] == invoice_id)).mappings().all()
    return [{k: v for k, v in row.items() if k not in PER_INVOICE} for row in rows]


def _create(services: Services, store_id: int, external_id: str, allocators: dict[str, Any]) -> int:
    request = InvoiceRequest(amount=Decimal("42.50"), external_id=external_id, platform="woocommerce",
                             description="Two mugs", customer_email="buyer@example.com",
                             metadata={"cart": [1, 2]})
    with services.uow() as uow:
        store = uow.session.get(Store, store_id)
        view, created = create_invoice(uow, store, request, services.rates, services.clock, services.limits,
                                       allocators=allocators)
        assert created
    with services.uow() as uow:
        return uow.session.execute(sa.select(Invoice.id).where(Invoice.number == view.number)).scalar_one()


def test_lean_and_orm_writes_leave_the_same_rows(services: Services) -> None:
    with services.uow() as uow:
        lean_store = create_store(uow, services.vault, name="Lean", network="sandbox")
    with services.uow() as uow:
        orm_store = create_store(uow, services.vault, name="Orm", network="sandbox", settlement_mode="deposit")
    allocated: list[str] = []
    # A deposit store with an allocator takes the ORM path (the allocator sees a flushed invoice).
    orm_path = {"sandbox": lambda session, invoice: allocated.append(invoice.number)}

    lean_id = _create(services, lean_store.id, "order-1", {})
    orm_id = _create(services, orm_store.id, "order-1", orm_path)

    assert len(allocated) == 1
    assert _rows(services, Invoice, lean_id, "id") == _rows(services, Invoice, orm_id, "id")
    assert _rows(services, Quote, lean_id) == _rows(services, Quote, orm_id)
    lean_events, orm_events = _rows(services, Event, lean_id), _rows(services, Event, orm_id)
    assert [e["type"] for e in lean_events] == ["invoice.created"]
    assert lean_events == orm_events


def test_lean_write_of_a_retry_returns_the_first_invoice(services: Services) -> None:
    with services.uow() as uow:
        store = create_store(uow, services.vault, name="Lean", network="sandbox")
    first = _create(services, store.id, "order-9", {})
    request = InvoiceRequest(amount=Decimal("42.50"), external_id="order-9", platform="woocommerce")
    with services.uow() as uow:
        again = uow.session.get(Invoice, first)
        assert again is not None
        view, created = create_invoice(uow, again.store, request, services.rates, services.clock, services.limits)
    assert not created and view.number == again.number
    with services.uow() as uow:
        assert uow.session.execute(sa.select(sa.func.count()).select_from(Invoice)).scalar_one() == 1
