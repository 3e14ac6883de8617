"""The invoice of a storefront platform's order (WooCommerce order, Saleor transaction, Shopify payment session).

One invoice per platform order, whatever the retries: found through the order's link (PlatformOrder, unique
per installation and order ref), else created with its link in one transaction, the link written before
invoice.created so that event's report to the platform is queued with it. Concurrent duplicates meet at a
unique constraint, the invoice's (store, kind, external id) or the link's, and the loser reads the winner's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, PlatformOrder, Store
from gateway_core.domain.errors import DuplicateExternalId, InvalidState
from gateway_core.domain.lifecycle import Status
from gateway_core.invoices.create import Invoicing, create_invoice
from gateway_core.invoices.insert import LinkTaken, PlatformLink
from gateway_core.invoices.manage import InvoiceRequest, cancel_invoice
from gateway_core.payments.transfers import FAILED
from gateway_core.views import InvoiceView, invoice_view


@dataclass(frozen=True)
class OrderInvoice:
    """The order's invoice, whether this request created it, and the link's data as stored."""

    view: InvoiceView
    created: bool
    invoice_id: int
    data: dict[str, Any]


def platform_order(session: Session, installation_id: int, order_ref: str) -> PlatformOrder | None:
    return session.execute(select(PlatformOrder).where(
        PlatformOrder.installation_id == installation_id, PlatformOrder.order_ref == order_ref)
    ).scalar_one_or_none()


def order_invoice(uow: UnitOfWork, invoicing: Invoicing, store: Store, installation_id: int, order_ref: str,
                      request: InvoiceRequest, data: Callable[[str], dict[str, Any]]) -> OrderInvoice:
    """Find or create the order's invoice; `data(number)` is the link's data for a new invoice (a pure function).

    An order whose request now carries another external id (WooCommerce: the total changed) gets a new invoice;
    the old one is cancelled if nobody paid it, and InvalidState is raised if somebody did.
    """
    session = uow.session
    existing = platform_order(session, installation_id, order_ref)
    if existing is not None and existing.invoice.external_id == request.external_id:
        return _found(existing, invoicing)
    if existing is not None:
        _retire(uow, store, existing.invoice, invoicing)
        session.expire(existing)  # the write below moves the link to the new invoice
    link = PlatformLink(installation_id, order_ref, data, existing.id if existing is not None else None)
    try:
        with session.begin_nested():
            made = create_invoice(uow, store, request, invoicing, link=link)
    except LinkTaken:
        winner = platform_order(session, installation_id, order_ref)
        assert winner is not None  # the link that made the insert conflict
        return _found(winner, invoicing)
    if made.created:
        return OrderInvoice(made.view, True, made.invoice_id, data(made.view.number))
    # The invoice already existed: a concurrent duplicate linked it, or it was made before its link was.
    linked = existing if existing is not None else platform_order(session, installation_id, order_ref)
    if linked is not None and linked.invoice_id == made.invoice_id:
        return _found(linked, invoicing)
    if made.view.contract != request.contract:
        raise DuplicateExternalId(f"external id {request.external_id} belongs to another invoice")
    if linked is None:
        linked = PlatformOrder(installation_id=installation_id, order_ref=order_ref, invoice_id=made.invoice_id,
                               data=data(made.view.number), created_at=invoicing.clock.now())
        session.add(linked)
    else:
        linked.invoice_id, linked.data = made.invoice_id, data(made.view.number)
    session.flush()
    return OrderInvoice(made.view, False, made.invoice_id, dict(linked.data or {}))


def _found(order: PlatformOrder, invoicing: Invoicing) -> OrderInvoice:
    return OrderInvoice(invoice_view(order.invoice, invoicing.clock.now()), False, order.invoice_id,
                        dict(order.data or {}))


def _retire(uow: UnitOfWork, store: Store, invoice: Invoice, invoicing: Invoicing) -> None:
    """The invoice of an order whose request changed: cancelled unless money already arrived."""
    paid = any(p.disposition != FAILED for p in invoice.payments)  # a failed transaction brought no money
    if paid or Status(invoice.status) not in (Status.PENDING, Status.EXPIRED, Status.CANCELLED):
        raise InvalidState(f"Invoice {invoice.number} of this order already has a payment; the order total "
                           "changed, so settle it by hand")
    if invoice.status == Status.PENDING:
        cancel_invoice(uow, store, invoice.number, invoicing.clock)
