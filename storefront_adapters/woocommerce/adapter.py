"""WooCommerce orders as invoice requests, and invoice events as what the REST client does to the order.

Pure: no I/O. The outbox channel (channel.py) carries out the OrderUpdate with the REST client.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway_core.domain import fields, money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.notifications.outbox import platform_invoice_facts
from gateway_core.views import InvoiceView
from storefront_adapters.base import OrderUpdate, PlatformOrder

PLATFORM = "woocommerce"
# The outbox reports these canonical events to the order; the completing one depends on the settlement mode
# (as VOLTXT's payment_completed does): direct mode is complete at confirmed, deposit mode after the sweep.
REPORTED_EVENTS = ("invoice.created", "invoice.partially_paid", "invoice.paid", "invoice.expired",
                   "invoice.underpaid", "invoice.overpaid", "invoice.cancelled")


def completing_event(settlement_mode: str) -> str:
    return "invoice.confirmed" if settlement_mode == "direct" else "invoice.settled"


def wanted_events(settlement_mode: str) -> list[str]:
    """PlatformOrder.data["events"]: what the outbox sends the channel for an order of this store."""
    return [*REPORTED_EVENTS, completing_event(settlement_mode)]


def external_id(installation_id: int, order_id: str, amount: Decimal, currency: str) -> str:
    """One invoice per site, order and total: a retry reuses it, a changed total gets a new one."""
    fingerprint = hashlib.sha256(f"{money.plain(amount)}|{currency}".encode()).hexdigest()[:12]
    return f"woocommerce:{installation_id}:{order_id}:{fingerprint}"


def order_id_of(external: str | None) -> str | None:
    parts = (external or "").split(":")
    return parts[2] if len(parts) == 4 and parts[0] == PLATFORM else None


def _amount(value: Any) -> Decimal:
    """WooCommerce's order total ("25.00"; a number from a JSON parser that reads floats, as its text)."""
    try:
        return fields.amount(str(value) if isinstance(value, float) else value)
    except fields.FieldError as exc:
        raise ValidationFailed("Invalid order total", errors={"total": str(exc)}) from None


def _fiat_text(amount: Any, currency: str) -> str:
    """'25.00 USD': the amount with its currency's decimals (the outbox body's JSON number drops them)."""
    try:
        value = Decimal(str(amount))
        exponent = money.FIAT_EXPONENTS.get(currency)
        text = str(value.quantize(Decimal(1).scaleb(-exponent))) if exponent is not None else money.plain(value)
    except (InvalidOperation, ValueError):
        text = str(amount)
    return f"{text} {currency}".strip()


class WooCommerceAdapter:
    """The StorefrontAdapter of one WooCommerce site (an installation): its orders and their events."""

    platform = PLATFORM

    def __init__(self, installation_id: int, expiry_hours: int | None = None) -> None:
        self.installation_id = installation_id
        self.expiry_hours = expiry_hours

    def order_from_request(self, payload: dict[str, Any]) -> PlatformOrder:
        """A WooCommerce order as its REST API and webhooks shape it (id, total, currency, billing, ...)."""
        order_id = payload.get("id")
        if isinstance(order_id, bool) or not isinstance(order_id, int | str) or not str(order_id).isdigit():
            raise ValidationFailed("Invalid order", errors={"id": "a WooCommerce order id is required"})
        currency = str(payload.get("currency") or "").upper()
        if currency not in money.FIAT_EXPONENTS:
            raise ValidationFailed("Unsupported currency", errors={"currency": f"{currency or '-'} is not supported"})
        amount = _amount(payload.get("total"))
        raw_billing = payload.get("billing")
        billing: dict[str, Any] = raw_billing if isinstance(raw_billing, dict) else {}
        name = " ".join(str(billing.get(k) or "") for k in ("first_name", "last_name")).strip()
        number = str(payload.get("number") or order_id)
        request = InvoiceRequest(
            amount=amount, currency=currency, fiat_currency=currency, contract=PLATFORM, platform=PLATFORM,
            external_id=external_id(self.installation_id, str(order_id), amount, currency),
            expiry_hours=self.expiry_hours, description=f"WooCommerce order {number}",
            customer_email=str(billing.get("email") or "") or None, customer_name=name or None,
            metadata={"order_id": int(order_id), "order_number": number},
        )
        return PlatformOrder(PLATFORM, str(order_id), request, payload)

    def apply_event(self, event_type: str, invoice: InvoiceView) -> OrderUpdate:
        """What an invoice event does to its order (the channel makes the REST calls)."""
        return plan_update(event_type, platform_invoice_facts(invoice), order_id_of(invoice.external_id) or "")


def plan_update(event_type: str, facts: dict[str, Any], order_id: str, payment_url: str | None = None
                ) -> OrderUpdate:
    """The order change for a canonical event, from the outbox body's invoice facts."""
    number = facts.get("number")
    amount = _fiat_text(facts.get("fiat_amount"), str(facts.get("fiat_currency") or ""))
    tx = facts.get("payment_tx_id") or ""
    if event_type in ("invoice.confirmed", "invoice.settled"):
        if facts.get("paid_late"):
            return OrderUpdate(order_id, "processing_late", f"Voltbridge: late payment (after invoice {number} "
                               f"expired) is final, transaction {tx}. Check stock and the order before shipping.")
        return OrderUpdate(order_id, "mark_paid", tx)
    notes = {
        "invoice.created": f"Voltbridge: invoice {number} for {amount}.",
        "invoice.partially_paid": f"Voltbridge: partial payment received for invoice {number} ({amount} due).",
        "invoice.paid": f"Voltbridge: payment of {amount} seen ({facts.get('paid_asset')}, transaction {tx}), "
                        "waiting for finality.",
        "invoice.expired": f"Voltbridge: invoice {number} expired unpaid; the order can be cancelled.",
        "invoice.underpaid": f"Voltbridge: invoice {number} expired part paid; refund or collect the rest by hand.",
        "invoice.overpaid": f"Voltbridge: invoice {number} was overpaid; you may refund the difference.",
        "invoice.cancelled": f"Voltbridge: invoice {number} was cancelled.",
    }
    if event_type == "invoice.created" and payment_url:
        # A customer note: WooCommerce emails it to the buyer, who has no checkout redirect without the plugin.
        return OrderUpdate(order_id, "customer_note",
                           f"Pay {amount} in crypto (SOL, USDC or USDT) here: {payment_url}")
    if event_type in notes:
        return OrderUpdate(order_id, "note", notes[event_type])
    return OrderUpdate(order_id, "ignored", event_type)
