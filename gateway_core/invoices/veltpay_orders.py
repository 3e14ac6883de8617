"""VeltPay orders on the one core: an order is an invoice priced in USDT, offering USDT alone, created through
the VeltPay contract, with an unguessable public id for its checkout link and public status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Store, VeltpayOrder
from gateway_core.contracts.veltpay_payloads import ASSET, EXTERNAL_ID_PREFIX, invoice_number
from gateway_core.domain import money
from gateway_core.domain.errors import DuplicateExternalId, InvoiceNotFound
from gateway_core.invoices.create import Created, Invoicing, create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.ports import Clock
from gateway_core.views import InvoiceView, invoice_view

CONTRACT = "veltpay"


@dataclass(frozen=True)
class OrderRequest:
    order_ref: str
    amount: Decimal  # USDT
    ttl_seconds: int | None = None  # None: the store's default expiry
    metadata: dict[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Order:
    view: InvoiceView
    public_id: str


def create_order(uow: UnitOfWork, store: Store, order: OrderRequest, invoicing: Invoicing) -> tuple[Order, bool]:
    """Create the order, or return the existing one for a retry with the same order_ref and amount."""
    request = InvoiceRequest(
        amount=order.amount, amount_type="crypto", currency=ASSET, fiat_currency="USD", contract=CONTRACT,
        external_id=EXTERNAL_ID_PREFIX + order.order_ref, assets=(ASSET,), metadata=order.metadata,
        ttl=None if order.ttl_seconds is None else timedelta(seconds=order.ttl_seconds),
        price_scale=money.scale(order.amount),
    )
    try:
        made = create_invoice(uow, store, request, invoicing)
    except DuplicateExternalId:
        raise DuplicateExternalId(f"order_ref {order.order_ref!r} is already used by an order with a different "
                                  "amount; use a new order_ref for a new order") from None
    return Order(made.view, _public_id(uow, made, store.id)), made.created


def _public_id(uow: UnitOfWork, made: Created, store_id: int) -> str:
    """The order's public UUID, written with the order (and for an order that somehow lacks one, now)."""
    session = uow.session
    public_id = None if made.created else session.execute(
        select(VeltpayOrder.public_id).where(VeltpayOrder.invoice_id == made.invoice_id)).scalar_one_or_none()
    if public_id is None:
        public_id = str(uuid.uuid4())
        session.add(VeltpayOrder(invoice_id=made.invoice_id, store_id=store_id, public_id=public_id,
                                 created_at=made.view.created_at))
        session.flush()
    return public_id


def get_order(uow: UnitOfWork, store: Store, order_id: str, clock: Clock) -> Order:
    """One of the store's VeltPay orders by id (anyone else's is 'not found')."""
    number = invoice_number(order_id)
    row = None if number is None else uow.session.execute(
        select(Invoice, VeltpayOrder.public_id).join(VeltpayOrder, VeltpayOrder.invoice_id == Invoice.id)
        .where(Invoice.number == number, Invoice.store_id == store.id, Invoice.contract == CONTRACT)
    ).first()
    if row is None:
        raise InvoiceNotFound(f"No order {order_id}")
    return Order(invoice_view(row[0], clock.now()), row[1])


def list_orders(uow: UnitOfWork, store: Store, limit: int, offset: int, clock: Clock) -> list[Order]:
    """The store's orders, newest first."""
    rows = uow.session.execute(
        select(Invoice, VeltpayOrder.public_id).join(VeltpayOrder, VeltpayOrder.invoice_id == Invoice.id)
        .where(VeltpayOrder.store_id == store.id)
        .order_by(VeltpayOrder.created_at.desc(), VeltpayOrder.id.desc()).limit(limit).offset(offset)
    ).all()
    now = clock.now()
    return [Order(invoice_view(invoice, now), public_id) for invoice, public_id in rows]


def public_order(uow: UnitOfWork, public_id: str, clock: Clock) -> InvoiceView:
    """Any order by its public UUID, for the checkout page."""
    invoice = uow.session.execute(
        select(Invoice).join(VeltpayOrder, VeltpayOrder.invoice_id == Invoice.id)
        .where(VeltpayOrder.public_id == public_id)
    ).scalar_one_or_none()
    if invoice is None:
        raise InvoiceNotFound("No such order")
    return invoice_view(invoice, clock.now())
