"""The sync webhook handlers: each takes a verified installation and a payload, and returns Saleor's answer.

Errors never vanish: a payment that cannot start is answered with a failure result and a message, which
Saleor records as the transaction's event (the shop owner sees it in the dashboard, the buyer's checkout fails).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Delivery, Event, PlatformOrder, Store
from gateway_core.bootstrap import Services
from gateway_core.domain.errors import GatewayError, InvalidState
from gateway_core.domain.lifecycle import OPEN
from gateway_core.invoices.manage import accepted_assets, cancel_invoice
from gateway_core.invoices.platform_orders import order_invoice, platform_order
from gateway_core.notifications.outbox import platform_delivery
from gateway_core.views import InvoiceView, invoice_view
from storefront_adapters.base import PlatformOrder as StorefrontOrder
from storefront_adapters.saleor.adapter import (
    SaleorAdapter,
    UnsupportedFlow,
    cancelled_message,
    failure_answer,
    session_answer,
)
from storefront_adapters.saleor.consts import PLATFORM, REPORTED_EVENTS
from storefront_adapters.saleor.installations import Installation

ADAPTER = SaleorAdapter()
Handler = Callable[[Services, Installation, Mapping[str, Any]], dict[str, Any]]


def payment_url(svc: Services, number: str) -> str:
    return f"{svc.settings.public_url}/pay/{number}"


def _amount(data: Mapping[str, Any] | None) -> Decimal:
    return Decimal(str((data or {})["amount"]))


def open_order(uow: UnitOfWork, svc: Services, installation: Installation,
               order: StorefrontOrder) -> tuple[InvoiceView, Decimal]:
    """The transaction's invoice, created on first sight; retries and concurrent requests get the same one."""
    store = uow.session.get(Store, installation.store_id)
    assert store is not None  # the installation's foreign key
    request = order.request

    def data(number: str) -> dict[str, Any]:
        return {"pspReference": number, "events": list(REPORTED_EVENTS), "amount": request.amount,
                "currency": request.currency, "paymentUrl": payment_url(svc, number),
                "source": (request.metadata or {}).get("saleor_source")}

    found = order_invoice(uow, svc.invoicing, store, installation.id, order.order_id, request, data)
    return found.view, _amount(found.data)


def initialize(svc: Services, installation: Installation, payload: Mapping[str, Any]) -> dict[str, Any]:
    """TRANSACTION_INITIALIZE_SESSION: create (or find) the invoice and send the buyer to pay it."""
    try:
        order = ADAPTER.order_from_request(dict(payload))
    except UnsupportedFlow as exc:
        return failure_answer(exc.message, _action_amount(payload), result="AUTHORIZATION_FAILURE", code=exc.code)
    except GatewayError as exc:
        return failure_answer(_explain(exc), _action_amount(payload), code=exc.code)
    try:
        with svc.uow() as uow:
            view, amount = open_order(uow, svc, installation, order)
            if view.status in OPEN:
                offer_cancel(uow.session, installation.id, order.order_id, svc.clock.now())
            answer = session_answer(view, amount, payment_url(svc, view.number))
    except GatewayError as exc:
        return failure_answer(_explain(exc), order.request.amount, code=exc.code)
    return answer


def offer_cancel(session: Session, installation_id: int, transaction_id: str, now: datetime) -> None:
    """Enqueue, once per transaction, the INFO report of the open invoice that offers Cancel in the dashboard.

    Saleor ignores `actions` in a CHARGE_ACTION_REQUIRED answer; a report's availableActions it applies. The
    order row is locked so that concurrent initialize requests enqueue it once.
    """
    order = session.execute(select(PlatformOrder).where(
        PlatformOrder.installation_id == installation_id, PlatformOrder.order_ref == transaction_id)
        .with_for_update(of=PlatformOrder)).scalar_one()
    invoice = order.invoice
    offered = select(Delivery.id).where(Delivery.channel == PLATFORM, Delivery.invoice_number == invoice.number,
                                        Delivery.event_type == "invoice.created").limit(1)
    if session.execute(offered).first() is not None:
        return
    created = session.execute(select(Event).where(Event.invoice_id == invoice.id, Event.type == "invoice.created")
                              .order_by(Event.id).limit(1)).scalar_one()
    session.add(platform_delivery(session, invoice, created, order, invoice_view(invoice, now), now))


def process(svc: Services, installation: Installation, payload: Mapping[str, Any]) -> dict[str, Any]:
    """TRANSACTION_PROCESS_SESSION: the invoice's current state."""
    tx_id = _transaction_id(payload)
    with svc.uow() as uow:
        order = platform_order(uow.session, installation.id, tx_id) if tx_id else None
        if order is None:
            return failure_answer("No crypto payment was started for this transaction", _action_amount(payload),
                                  code="INVOICE_NOT_FOUND")
        view = invoice_view(order.invoice, svc.clock.now())
        return session_answer(view, _amount(order.data), payment_url(svc, view.number))


def cancel(svc: Services, installation: Installation, payload: Mapping[str, Any]) -> dict[str, Any]:
    """TRANSACTION_CANCELATION_REQUESTED: cancel the invoice while nothing is paid; say why not otherwise."""
    tx_id = _transaction_id(payload)
    amount = _action_amount(payload)
    with svc.uow() as uow:
        order = platform_order(uow.session, installation.id, tx_id) if tx_id else None
        if order is None:
            return _cancel_answer("CANCEL_FAILURE", None, amount, "No crypto payment exists for this transaction")
        number, amount = order.invoice.number, amount or _amount(order.data)
        store = uow.session.get(Store, installation.store_id)
        assert store is not None
        try:
            cancel_invoice(uow, store, number, svc.clock)
        except InvalidState as exc:  # raised before anything is written: paid, expired or closed
            return _cancel_answer("CANCEL_FAILURE", number, amount, exc.message)
    return _cancel_answer("CANCEL_SUCCESS", number, amount, cancelled_message(number), actions=[])


def gateway_initialize(svc: Services, installation: Installation, payload: Mapping[str, Any]) -> dict[str, Any]:
    """PAYMENT_GATEWAY_INITIALIZE_SESSION: what the storefront shows before the buyer picks crypto."""
    with svc.uow() as uow:
        store = uow.session.get(Store, installation.store_id)
        assert store is not None
        assets = accepted_assets(store)
        data: dict[str, Any] = {"gateway": "voltbridge", "network": store.network, "assets": assets,
                                "flow": "redirect", "storeName": store.name,
                                "expiryHours": store.default_expiry_hours}
    if not assets:
        data["error"] = {"code": "NO_DESTINATION_WALLET",
                         "message": "The gateway's store has no wallet to receive payments"}
    return {"data": data}


def _cancel_answer(result: str, number: str | None, amount: Decimal | None, message: str,
                   actions: list[str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"result": result, "message": message}
    if actions is not None:  # Saleor applies a cancel answer's actions: nothing is left to do once cancelled
        answer["actions"] = actions
    if number is not None:
        answer["pspReference"] = number
    if amount is not None:
        answer["amount"] = amount
    return answer


def _transaction_id(payload: Mapping[str, Any]) -> str | None:
    transaction = payload.get("transaction")
    tx_id = transaction.get("id") if isinstance(transaction, dict) else None
    return tx_id if isinstance(tx_id, str) and tx_id else None


def _action_amount(payload: Mapping[str, Any]) -> Decimal | None:
    action = payload.get("action")
    amount = action.get("amount") if isinstance(action, dict) else None
    return amount if isinstance(amount, Decimal) and amount.is_finite() and amount > 0 else None


def _explain(exc: GatewayError) -> str:
    detail = "; ".join(f"{field}: {text}" for field, text in exc.errors.items())
    return f"{exc.message} ({detail})" if detail else exc.message


HANDLERS: dict[str, Handler] = {
    "PAYMENT_GATEWAY_INITIALIZE_SESSION": gateway_initialize,
    "TRANSACTION_INITIALIZE_SESSION": initialize,
    "TRANSACTION_PROCESS_SESSION": process,
    "TRANSACTION_CANCELATION_REQUESTED": cancel,
}
