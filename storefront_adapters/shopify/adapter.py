"""The Shopify payments app behind the storefront protocol: payment and refund session requests in, the
action each canonical invoice event takes on the Shopify payment session out.

An invoice that is paid (seen on chain, not final) leaves the session pending, waiting on the network; a
confirmed (final) invoice resolves it; an invoice that closes unpaid rejects it with a message the merchant
sees in their Shopify admin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway_core.domain import money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.views import InvoiceView
from storefront_adapters.base import OrderUpdate, PlatformOrder

PLATFORM = "shopify"
PENDING, RESOLVE, REJECT = "pending", "resolve", "reject"
ACTIONS: dict[str, str] = {
    "invoice.paid": PENDING,
    "invoice.confirmed": RESOLVE,
    "invoice.expired": REJECT,
    "invoice.underpaid": REJECT,
    "invoice.cancelled": REJECT,
}
# What a Shopify payment order asks the outbox for (PlatformOrder.data["events"]).
WANTED_EVENTS = tuple(ACTIONS)
_AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,8})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class PaymentSession:
    """Shopify's start-payment request (Payments Apps request reference, offsite flow)."""

    id: str
    gid: str
    group: str | None
    amount: Decimal
    currency: str
    test: bool
    kind: str
    cancel_url: str | None


@dataclass(frozen=True)
class RefundSession:
    id: str
    gid: str
    payment_id: str
    amount: Decimal
    currency: str
    test: bool


def action_for(event_type: str) -> str | None:
    """What a canonical invoice event does to the Shopify payment session, if anything."""
    return ACTIONS.get(event_type)


def _money(amount: Any, currency: Any) -> str:
    """'10.00 USD': the amount with its currency's decimals, as the merchant's Shopify admin shows it."""
    try:
        exponent = money.FIAT_EXPONENTS[str(currency)]
        return f"{Decimal(str(amount)).quantize(Decimal(1).scaleb(-exponent))} {currency}"
    except (KeyError, ArithmeticError):
        return f"{amount} {currency}"


def reject_message(event_type: str, invoice: Mapping[str, Any]) -> str:
    """The merchantMessage of a rejected payment session: what happened, in the merchant's terms."""
    number, amount = invoice.get("number"), _money(invoice.get("fiat_amount"), invoice.get("fiat_currency"))
    if event_type == "invoice.underpaid":
        tx = invoice.get("payment_tx_id") or "see voltbridge"
        return (f"Crypto invoice {number} closed underpaid: the buyer sent only part of {amount}. The partial "
                f"payment (tx {tx}) is recorded in voltbridge; settle or refund it with the buyer from your wallet.")
    if event_type == "invoice.cancelled":
        return f"Crypto invoice {number} for {amount} was cancelled before it was paid."
    return f"The buyer did not pay crypto invoice {number} for {amount} before it expired; nothing was received."


def refund_message(refund: RefundSession, invoice: InvoiceView) -> str:
    """Why a refund session is rejected, and what the merchant does instead."""
    paid = f" in {invoice.paid_asset}" if invoice.paid_asset else ""
    tx = f", transaction {invoice.payment_tx_id}" if invoice.payment_tx_id else ""
    return (f"Crypto refunds are made by the merchant from their wallet: send the buyer the equivalent of "
            f"{_money(refund.amount, refund.currency)}{paid} yourself (crypto invoice {invoice.number}{tx}).")


def _text(payload: Mapping[str, Any], name: str, errors: dict[str, str], limit: int = 255) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        errors[name] = f"must be a non-empty string of at most {limit} characters"
        return ""
    return value


def _amount(payload: Mapping[str, Any], errors: dict[str, str]) -> Decimal:
    """Shopify's amount is a decimal string (or number): parsed exactly, never through a float."""
    value = payload.get("amount")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal) or not _AMOUNT.fullmatch(str(value)):
        errors["amount"] = "must be a positive decimal amount, e.g. \"123.00\""
        return Decimal(0)
    amount = Decimal(str(value))
    if amount <= 0:
        errors["amount"] = "must be greater than zero"
    return amount


def _currency(payload: Mapping[str, Any], errors: dict[str, str]) -> str:
    value = payload.get("currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        errors["currency"] = "must be an ISO 4217 code such as USD"
        return ""
    return value


def _test(payload: Mapping[str, Any], errors: dict[str, str]) -> bool:
    value = payload.get("test", False)
    if not isinstance(value, bool):
        errors["test"] = "must be true or false"
        return False
    return value


def parse_payment_session(payload: Mapping[str, Any]) -> PaymentSession:
    """The payment session request, or ValidationFailed naming every bad field."""
    errors: dict[str, str] = {}
    session_id, gid = _text(payload, "id", errors), _text(payload, "gid", errors)
    amount, currency, test = _amount(payload, errors), _currency(payload, errors), _test(payload, errors)
    kind = payload.get("kind", "sale")
    if kind not in ("sale", "authorization"):
        errors["kind"] = "must be sale or authorization"
    method = payload.get("payment_method") or {}
    data = method.get("data") if isinstance(method, dict) else None
    cancel_url = data.get("cancel_url") if isinstance(data, dict) else None
    group = payload.get("group")
    if errors:
        raise ValidationFailed("Invalid payment session request", errors=errors)
    return PaymentSession(session_id, gid, group if isinstance(group, str) else None, amount, currency, test,
                          str(kind), cancel_url if isinstance(cancel_url, str) else None)


def parse_refund_session(payload: Mapping[str, Any]) -> RefundSession:
    errors: dict[str, str] = {}
    refund_id, gid = _text(payload, "id", errors), _text(payload, "gid", errors)
    payment_id = _text(payload, "payment_id", errors)
    amount, currency, test = _amount(payload, errors), _currency(payload, errors), _test(payload, errors)
    if errors:
        raise ValidationFailed("Invalid refund session request", errors=errors)
    return RefundSession(refund_id, gid, payment_id, amount, currency, test)


def invoice_request(session: PaymentSession, shop: str, success_url: str) -> InvoiceRequest:
    """The core invoice for one payment session: Shopify's amount and currency as sent, nothing personal."""
    return InvoiceRequest(
        amount=session.amount, amount_type="fiat", currency=session.currency, contract=PLATFORM,
        external_id=f"{PLATFORM}:{session.id}", platform=PLATFORM, description=f"Shopify checkout at {shop}",
        success_url=success_url, cancel_url=session.cancel_url,
        metadata={"shopify_payment_session": session.gid, "shop": shop, "test": session.test})


class ShopifyAdapter:
    """storefront_adapters.base.StorefrontAdapter for Shopify payment sessions."""

    platform = PLATFORM

    def __init__(self, shop: str, success_url: str) -> None:
        self.shop, self.success_url = shop, success_url

    def read(self, payload: dict[str, Any]) -> tuple[PaymentSession, PlatformOrder]:
        """The session as Shopify described it, and the order (with its invoice request) it stands for."""
        session = parse_payment_session(payload)
        order = PlatformOrder(PLATFORM, session.id, invoice_request(session, self.shop, self.success_url), payload)
        return session, order

    def order_from_request(self, payload: dict[str, Any]) -> PlatformOrder:
        return self.read(payload)[1]

    def apply_event(self, event_type: str, invoice: InvoiceView) -> OrderUpdate:
        order_id = (invoice.external_id or "").removeprefix(f"{PLATFORM}:")
        action = action_for(event_type)
        if action is None:
            return OrderUpdate(order_id, "ignored")
        detail = reject_message(event_type, {"number": invoice.number, "fiat_amount": invoice.fiat_amount,
                                             "fiat_currency": invoice.fiat_currency,
                                             "payment_tx_id": invoice.payment_tx_id}) if action == REJECT else ""
        return OrderUpdate(order_id, action, detail)
