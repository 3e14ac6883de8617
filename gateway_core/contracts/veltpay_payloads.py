"""VeltPay's order object, status names and signed webhooks (shared/specs/veltpay-api.txt), from an InvoiceView.

A VeltPay order is an invoice created through the VeltPay contract, priced in USDT and offering USDT alone.
Its id is "ord_" + the invoice number, so the webhook body (rendered at enqueue, before anything else about
the order is written) and the API name the order the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway_core.contracts.formats import ContractMessage
from gateway_core.domain import money
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.views import InvoiceView, QuoteView

ORDER_ID_PREFIX = "ord_"
# External ids are unique per store across contracts: VeltPay's order_refs live in their own namespace.
EXTERNAL_ID_PREFIX = "veltpay:"
ASSET = "USDT"

# DESIGN.md §4: the one lifecycle under VeltPay's names. VeltPay has no cancellation; a cancelled invoice (only
# possible through another door) is reported as the closed window it amounts to. An order whose window closed
# part-paid is `expired` ("the TTL elapsed before the full amount was received"; amount_paid shows the part):
# `underpaid` is the open order that has received part of the amount.
STATUS: dict[Status, str] = {
    Status.PENDING: "pending",
    Status.PARTIALLY_PAID: "underpaid",
    Status.PAID: "paid_unconfirmed",
    Status.CONFIRMED: "confirmed",
    Status.SETTLED: "completed",
    Status.EXPIRED: "expired",
    Status.UNDERPAID: "expired",
    Status.CANCELLED: "expired",
}

# Canonical events VeltPay reports. settled ("completed") has no event in the spec; overpayment shows as
# amount_paid > amount; a transfer dropped before finality re-opens the order (order.pending again).
EVENTS: dict[str, str] = {
    "invoice.created": "order.pending",
    "invoice.reopened": "order.pending",
    "invoice.partially_paid": "order.underpaid",
    "invoice.paid": "order.paid_unconfirmed",
    "invoice.confirmed": "order.confirmed",
    "invoice.expired": "order.expired",
    "invoice.underpaid": "order.expired",  # "TTL elapsed without full payment", after any order.underpaid
}


def order_id(number: str) -> str:
    return ORDER_ID_PREFIX + number


def invoice_number(order: str) -> str | None:
    """The invoice number inside an order id, or None for anything that is not one of ours."""
    if not order.startswith(ORDER_ID_PREFIX):
        return None
    number = order[len(ORDER_ID_PREFIX):]
    return number if 1 <= len(number) <= 32 and number.isalnum() else None


def timestamp(moment: datetime) -> str:
    """'2026-05-30T12:30:00Z', the spec's shape (whole seconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(view: InvoiceView, now: datetime | None = None) -> str:
    """The VeltPay status; with `now`, an open order whose window has closed already reads as closed."""
    if now is not None and view.status in OPEN and now >= view.expires_at:
        return "expired"
    return STATUS[view.status]


def usdt_quote(view: InvoiceView) -> QuoteView:
    return next((q for q in view.quotes if q.asset == ASSET), view.display_quote)


def _amount(view: InvoiceView, quote: QuoteView, units: int) -> str:
    """USDT at the scale the client wrote the order's amount with ("120.00" stays "120.00"; amount_paid too).

    Nothing paid reads "0", as in the document's examples ("amount": "49.99", "amount_paid": "0").
    """
    if units == 0:
        return "0"
    return money.with_scale(quote.units(units), view.price_scale)


def order_fields(view: InvoiceView, now: datetime | None = None) -> dict[str, Any]:
    """The order object as the spec's webhook shows it (the API adds checkout_url and metadata)."""
    quote = usdt_quote(view)
    return {
        "id": order_id(view.number),
        "order_ref": (view.external_id or "").removeprefix(EXTERNAL_ID_PREFIX),
        "status": status(view, now),
        "amount": _amount(view, quote, quote.amount_due),
        "amount_paid": _amount(view, quote, quote.amount_paid),
        "currency": ASSET,
        "chain": "TRON",
        "address": quote.address,
        "tx_hash": view.payment_tx_id,
        "confirmations": view.confirmations,
        "expires_at": timestamp(view.expires_at),
    }


def public_fields(view: InvoiceView, now: datetime) -> dict[str, Any]:
    """What the checkout page may show anyone holding the link: no ids, no references, no merchant data."""
    order = order_fields(view, now)
    return {name: order[name] for name in ("status", "amount", "amount_paid", "currency", "chain", "address",
                                           "confirmations", "expires_at")}


def webhook_signature(secret: str, unix_seconds: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over timestamp + "." + raw body, keyed by the endpoint secret."""
    return hmac.new(secret.encode(), unix_seconds.encode() + b"." + body, hashlib.sha256).hexdigest()


class VeltpayWebhooks:
    """ContractWebhookFormat of VeltPay: {event, data, sent_at} with X-Velt-* headers."""

    contract = "veltpay"

    def message(self, view: InvoiceView, event_type: str, event_id: str, at: datetime) -> ContractMessage | None:
        name = EVENTS.get(event_type)
        if name is None:
            return None
        # sent_at is fixed when the event is queued (its first send follows at once): a retry must carry the
        # same bytes. Each attempt's own send time is X-Velt-Timestamp, the one the signature covers.
        payload = {"event": name, "data": order_fields(view), "sent_at": timestamp(at)}
        return ContractMessage(name, payload, {"X-Velt-Event": name})

    def sign(self, secret: str, body: bytes, at: datetime) -> Mapping[str, str]:
        unix_seconds = str(int(at.timestamp()))
        return {"X-Velt-Timestamp": unix_seconds, "X-Velt-Signature": webhook_signature(secret, unix_seconds, body)}


FORMAT = VeltpayWebhooks()
