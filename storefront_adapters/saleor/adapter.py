"""Translation between Saleor transactions and invoices (the StorefrontAdapter of base.py for Saleor).

One Saleor transaction is one invoice. Its state is told to Saleor in Saleor's own result names: the sync
webhook answers (CHARGE_ACTION_REQUIRED while the buyer pays) and, later, transactionEventReport
(CHARGE_REQUEST when the payment is seen, CHARGE_SUCCESS when final, CHARGE_FAILURE when the invoice closes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway_core.adapters.jsonwire import iso
from gateway_core.domain import money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.services.invoices import InvoiceRequest
from gateway_core.services.outbox import platform_invoice_facts
from gateway_core.services.views import InvoiceView
from storefront_adapters.base import OrderUpdate, PlatformOrder
from storefront_adapters.saleor.consts import PLATFORM

MESSAGE_LIMIT = 512  # Saleor truncates transaction event messages beyond this


class UnsupportedFlow(ValidationFailed):
    """Saleor asked to authorise now and capture later, which a push payment on chain cannot do."""

    code = "UNSUPPORTED_FLOW"


@dataclass(frozen=True)
class SaleorTransaction:
    """The parts of a TRANSACTION_*_SESSION payload an invoice needs."""

    id: str
    amount: Decimal
    currency: str
    action_type: str
    source_type: str
    source_id: str
    source_number: str | None
    email: str | None
    merchant_reference: str | None

    @property
    def external_id(self) -> str:
        return f"{PLATFORM}:{self.id}"  # namespaced: never collides with a VOLTXT plugin's external ids


def _text(value: Any, limit: int = 255) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def parse_transaction(payload: Mapping[str, Any]) -> SaleorTransaction:
    """The transaction of a session payload; ValidationFailed names what is missing."""
    errors: dict[str, str] = {}
    transaction, action, source = (_object(payload, name) for name in ("transaction", "action", "sourceObject"))
    tx_id = _text(transaction.get("id"))
    if tx_id is None:
        errors["transaction.id"] = "required"
    amount = _decimal(action.get("amount"))
    if amount is None or amount <= 0:
        errors["action.amount"] = "a positive amount is required"
    currency = _text(action.get("currency"), 3)
    if currency is None:
        errors["action.currency"] = "required"
    if errors:
        raise ValidationFailed("The Saleor payload lacks fields the payment needs", errors=errors)
    assert tx_id is not None and amount is not None and currency is not None
    number = source.get("number")
    return SaleorTransaction(
        id=tx_id, amount=amount, currency=currency.upper(), action_type=str(action.get("actionType") or "CHARGE"),
        source_type=str(source.get("__typename") or "Checkout"), source_id=str(source.get("id") or ""),
        source_number=str(number) if number is not None else None,
        email=_text(source.get("email") or source.get("userEmail")),
        merchant_reference=_text(payload.get("merchantReference")),
    )


def _object(payload: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, int | str) else value
    except InvalidOperation:
        return None
    return number if isinstance(number, Decimal) and number.is_finite() else None


def invoice_request(tx: SaleorTransaction) -> InvoiceRequest:
    """The invoice for a Saleor charge: the amount in the checkout's currency, priced in every accepted asset."""
    label = f"order #{tx.source_number}" if tx.source_number else tx.source_type.lower()
    return InvoiceRequest(
        amount=tx.amount, amount_type="fiat", currency=tx.currency, fiat_currency=tx.currency, contract=PLATFORM,
        external_id=tx.external_id, platform=PLATFORM, description=f"Saleor {label}", customer_email=tx.email,
        metadata={"saleor_transaction_id": tx.id, "saleor_source": {"type": tx.source_type, "id": tx.source_id},
                  "merchant_reference": tx.merchant_reference},
    )


# -- invoice state in Saleor's words --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeReport:
    type: str  # a TransactionEventTypeEnum value
    message: str


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def charge_report(event_type: str, invoice: Mapping[str, Any]) -> ChargeReport | None:
    """What Saleor is told for a canonical invoice event (None: nothing to report)."""
    number = invoice.get("number")
    asset = invoice.get("paid_asset") or "crypto"
    tx = f" (transaction {invoice['payment_tx_id']})" if invoice.get("payment_tx_id") else ""
    late = " after invoice expiry" if invoice.get("paid_late") else ""
    network = invoice.get("network") or "chain"
    if event_type == "invoice.paid":
        return ChargeReport("CHARGE_REQUEST",
                            _clip(f"{asset} payment for invoice {number} seen on {network}{late}{tx}; "
                                  "waiting for it to become final"))
    if event_type == "invoice.confirmed":
        over = "; more than the amount due was paid" if invoice.get("overpaid") else ""
        return ChargeReport("CHARGE_SUCCESS", _clip(f"{asset} payment for invoice {number} is final{late}{tx}{over}"))
    if event_type == "invoice.expired":
        return ChargeReport("CHARGE_FAILURE", _clip(f"Invoice {number} expired unpaid"))
    if event_type == "invoice.underpaid":
        return ChargeReport("CHARGE_FAILURE", _clip(
            f"Invoice {number} closed underpaid: part of the amount was received; decide whether to refund it "
            "or accept it"))
    if event_type == "invoice.cancelled":
        return ChargeReport("CHARGE_FAILURE", _clip(f"Invoice {number} was cancelled"))
    return None


_EVENT_OF_STATUS = {Status.PAID: "invoice.paid", Status.CONFIRMED: "invoice.confirmed",
                    Status.SETTLED: "invoice.confirmed", Status.EXPIRED: "invoice.expired",
                    Status.UNDERPAID: "invoice.underpaid", Status.CANCELLED: "invoice.cancelled"}


def payment_data(view: InvoiceView, payment_url: str) -> dict[str, Any]:
    """The `data` Saleor hands the storefront: where and what to pay (crypto amounts as exact strings)."""
    return {
        "invoiceNumber": view.number, "paymentUrl": payment_url, "status": view.status.value,
        "network": view.network, "expiresAt": iso(view.expires_at),
        "fiatAmount": money.plain(view.fiat_amount), "fiatCurrency": view.fiat_currency,
        "paymentOptions": [{"asset": q.asset, "chain": q.chain, "address": q.address, "reference": q.reference,
                            "amount": money.plain(q.units(q.amount_due))} for q in view.quotes],
    }


def session_answer(view: InvoiceView, amount: Decimal, payment_url: str) -> dict[str, Any]:
    """The answer to TRANSACTION_INITIALIZE_SESSION / TRANSACTION_PROCESS_SESSION for the invoice as it stands."""
    answer: dict[str, Any] = {"pspReference": view.number, "amount": amount, "externalUrl": payment_url,
                              "data": payment_data(view, payment_url)}
    if view.status in OPEN:
        assets = ", ".join(q.asset for q in view.quotes)
        return {**answer, "result": "CHARGE_ACTION_REQUIRED", "actions": ["CANCEL"],
                "message": _clip(f"Pay invoice {view.number} in {assets} at {payment_url} before "
                                 f"{iso(view.expires_at)}")}
    report = charge_report(_EVENT_OF_STATUS[view.status], platform_invoice_facts(view))
    assert report is not None
    return {**answer, "result": report.type, "actions": [], "message": report.message}


def failure_answer(message: str, amount: Decimal | None, result: str = "CHARGE_FAILURE",
                   code: str = "VALIDATION_ERROR") -> dict[str, Any]:
    """A session answer that puts our error where the shop owner sees it: the transaction event's message."""
    answer: dict[str, Any] = {"result": result, "message": _clip(message),
                              "data": {"error": {"code": code, "message": message}}}
    if amount is not None:
        answer["amount"] = amount
    return answer


class SaleorAdapter:
    """The StorefrontAdapter protocol for Saleor (base.py)."""

    platform = PLATFORM

    def order_from_request(self, payload: dict[str, Any]) -> PlatformOrder:
        """The charge a TRANSACTION_INITIALIZE_SESSION asks for (order_id: the Saleor transaction id)."""
        tx = parse_transaction(payload)
        if tx.action_type != "CHARGE":
            raise UnsupportedFlow("Crypto payments cannot be authorised and captured later: set the channel's "
                                  "transaction flow strategy to CHARGE for this payment app")
        return PlatformOrder(platform=PLATFORM, order_id=tx.id, request=invoice_request(tx), raw=payload)

    def apply_event(self, event_type: str, invoice: InvoiceView) -> OrderUpdate:
        report = charge_report(event_type, platform_invoice_facts(invoice))
        order_id = (invoice.metadata or {}).get("saleor_transaction_id") or invoice.external_id or ""
        if report is None:
            return OrderUpdate(str(order_id), "ignored", event_type)
        return OrderUpdate(str(order_id), report.type, report.message)
