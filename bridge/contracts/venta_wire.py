"""VentaConnect's shapes (shared/specs/ventaconnect-api.txt, docs/openapi/venta.yaml): the checkout request,
the session object, the WebSocket envelopes and the error body.

The spec leaves the bodies open; the choices (camelCase, decimal strings, the code for each of our states)
are documented in docs/openapi/venta.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Response

from bridge.checkout_wire import payment_request
from bridge.contracts.voltxt_wire import parse_amount
from bridge.errors import Problem
from bridge.jsonio import iso, json_response
from gateway_core.checkout_view import checkout_state
from gateway_core.config import Settings
from gateway_core.domain import fields, money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.domain.lifecycle import Status
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.payments.transfers import DROPPED, FAILED
from gateway_core.views import InvoiceView

TOKENS = ("USDC", "SOL")  # Solana Pay: what a POS QR code can ask for
_ORDER_ID = re.compile(r"^[\x21-\x7e]{1,120}$")  # printable ASCII, no spaces: POS order numbers and UUIDs
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
MAX_MESSAGE = 200
# A POS session waits at the counter, with the buyer in front of it: a short window keeps the quoted rate fresh.
SESSION_TTL = timedelta(minutes=15)
# encodeURIComponent leaves exactly these unescaped (besides A-Z a-z 0-9): ECMA-262 uriUnreserved.
_URI_COMPONENT_SAFE = "-_.!~*'()"
HTTP_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
              422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
              502: "Bad Gateway", 503: "Service Unavailable"}
# Our core's codes where VentaConnect speaks of sessions and orders rather than invoices.
CODES = {"INVOICE_NOT_FOUND": "SESSION_NOT_FOUND", "DUPLICATE_EXTERNAL_ID": "DUPLICATE_ORDER_ID",
         "INVALID_INVOICE_STATE": "INVALID_SESSION_STATE", "EXPIRED_INVOICE": "SESSION_EXPIRED"}


def encode_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent: UTF-8 percent-encoding of all but A-Z a-z 0-9 - _ . ! ~ * ' ( )."""
    return quote(text, safe=_URI_COMPONENT_SAFE)


def render_error(problem: Problem, request_id: str) -> Response:
    """{"statusCode", "error", "code", "message", "details"?, "requestId"}."""
    body: dict[str, Any] = {"statusCode": problem.status, "error": HTTP_NAMES.get(problem.status, "Error"),
                            "code": CODES.get(problem.code, problem.code), "message": problem.message}
    if problem.errors:
        body["details"] = problem.errors
    body["requestId"] = request_id
    return json_response(body, problem.status)


@dataclass(frozen=True)
class CheckoutRequest:
    invoice: InvoiceRequest
    token: str
    order_id: str | None


def parse_checkout(body: dict[str, Any]) -> CheckoutRequest:
    """amount (decimal string or number, in `currency`), currency (USD), token (USDC|SOL), orderId, message."""
    errors: dict[str, str] = {}
    amount = parse_amount(body.get("amount"), "amount", errors)
    currency = body.get("currency") or "USD"
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency) \
            or currency.upper() not in money.FIAT_EXPONENTS:
        errors["currency"] = f"must be one of {', '.join(sorted(money.FIAT_EXPONENTS))}"
        currency = "USD"
    coin = body.get("token") or TOKENS[0]
    if not isinstance(coin, str) or coin.upper() not in TOKENS:
        errors["token"] = f"must be one of {', '.join(TOKENS)}"
        coin = TOKENS[0]
    order_id = body.get("orderId")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if order_id is not None and (not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id)):
        errors["orderId"] = "must be 1 to 120 printable characters without spaces"
        order_id = None
    message = None
    try:
        message = fields.text(body.get("message"), MAX_MESSAGE, numbers=False)
    except fields.FieldError as exc:
        errors["message"] = str(exc)
    if errors or amount is None:
        raise ValidationFailed("Request validation failed", errors=errors)
    currency = currency.upper()
    # The wallet shows it before the buyer approves: the POS's text, else its order number.
    description = message or (f"Order {order_id}" if order_id else None)
    return CheckoutRequest(
        InvoiceRequest(amount=amount, currency=currency, fiat_currency=currency, contract="venta",
                       platform="venta", external_id=f"venta:{order_id}" if order_id else None,
                       ttl=SESSION_TTL, description=description, chosen_asset=coin.upper()),
        coin.upper(), order_id,
    )


def socket_url(public_url: str, ref: str) -> str:
    """The session's WebSocket: ws:// behind http, wss:// behind https, on the gateway's public address."""
    parts = urlsplit(public_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/v1/checkout/{ref}/ws"


def solana_pay_link(view: InvoiceView, token: str, settings: Settings, now: datetime) -> str:
    """The Solana Pay transfer request for `token` (the remainder once part is paid), URI-component encoded."""
    option = checkout_state(view, now).option(token)
    if option is None:  # the store accepts no such token; create refuses that before this is reached
        raise ValidationFailed("Token not accepted", errors={"token": f"this shop does not accept {token}"})
    return encode_uri_component(payment_request(option, view, settings))


def token_of(view: InvoiceView) -> str:
    """The token the session's link asks for (chosen at creation)."""
    return view.chosen_asset if view.chosen_asset in TOKENS else view.display_quote.asset


def _amounts(view: InvoiceView) -> dict[str, str]:
    quote_ = next(q for q in view.quotes if q.asset == token_of(view))
    paid = min(view.progress, Fraction(1)) * quote_.amount_due
    return {"token": quote_.asset, "tokenAmount": money.plain(quote_.units(quote_.amount_due)),
            "amountPaid": money.plain(quote_.units(int(paid))),
            "amountRemaining": money.plain(quote_.units(max(0, quote_.amount_due - int(paid))))}


def _message(kind: str, code: str, view: InvoiceView, text: str, **fields: Any) -> dict[str, Any]:
    """One envelope: the document's `status` and `code`, then ours. `type` repeats `status` for POS software
    written against our earlier envelope; `lifecycleStatus` is the invoice's own status (DESIGN.md §4)."""
    return {"status": kind, "code": code, "ref": view.number, "type": kind, "lifecycleStatus": view.status.value,
            **fields, "message": text}


def envelope(view: InvoiceView) -> dict[str, Any] | None:
    """The WebSocket message for the session's state now; None while nothing has happened yet.

    Derived from the stored state, not from events, so a socket that connects late (or a poll) sees the same.
    """
    status = view.status
    if status in (Status.CONFIRMED, Status.SETTLED):
        return _message("confirmed", "PAYMENT_CONFIRMED", view, "Payment landed", txSig=view.payment_tx_id,
                        overpaid=view.overpaid, paidLate=view.paid_late, **_amounts(view))
    if status is Status.EXPIRED:
        return _message("expired", "ORDER_EXPIRED", view, "Payment window elapsed")
    if status is Status.CANCELLED:
        return _message("expired", "ORDER_EXPIRED", view, "Checkout session cancelled")
    if status is Status.UNDERPAID:
        return _message("expired", "CONFIRMATION_TIMEOUT", view,
                        "Payment window elapsed with only part of the amount received", **_amounts(view))
    if status is Status.PAID:
        return _message("update", "RECEIVE_REQUEST", view, "Payment received, waiting for finality",
                        txSig=view.payment_tx_id, **_amounts(view))
    latest = max(view.payments, key=lambda p: p.block_time, default=None)
    if latest is not None and latest.disposition == FAILED:
        # The document lists TRANSACTION_FAILED as final; the session itself stays payable, and a payment that
        # lands afterwards is recorded and shown (RECEIVE_REQUEST, PAYMENT_CONFIRMED) like any other.
        return _message("expired", "TRANSACTION_FAILED", view, "The transaction failed on chain",
                        txSig=latest.tx_id, **_amounts(view))
    if status is Status.PARTIALLY_PAID:
        return _message("update", "INSUFFICIENT_FUNDS", view, "Part of the amount received", **_amounts(view))
    stray = [p for p in view.payments if p.disposition in ("wrong_asset", DROPPED)]
    if not stray:
        return None
    latest = max(stray, key=lambda p: p.block_time)
    if latest.disposition == "wrong_asset":
        return _message("update", "INSUFFICIENT_FUNDS", view, f"Received {latest.asset}, which this session does "
                        "not ask for", txSig=latest.tx_id, **_amounts(view))
    return _message("update", "TX_BUILD_ERROR", view, "The transaction did not land; scan the code again",
                    txSig=latest.tx_id, **_amounts(view))


def is_final(message: dict[str, Any] | None) -> bool:
    return message is not None and message["status"] in ("confirmed", "expired")


def session_body(view: InvoiceView, settings: Settings, now: datetime) -> dict[str, Any]:
    """The session: link, ref and ws (the spec's three), then what a POS shows; status as the socket says it."""
    token = token_of(view)
    message = envelope(view)
    return {
        "ref": view.number,
        "link": solana_pay_link(view, token, settings, now),
        "ws": socket_url(settings.public_url, view.number),
        "status": message["status"] if message else "pending",
        "lifecycleStatus": view.status.value,
        "code": message["code"] if message else None,
        "txSig": message.get("txSig") if message else None,
        "final": is_final(message),
        "orderId": view.external_id.removeprefix("venta:") if view.external_id else None,
        "amount": format(view.fiat_amount, "f"),
        "currency": view.fiat_currency,
        **_amounts(view),
        "network": view.network,
        "createdAt": iso(view.created_at),
        "expiresAt": iso(view.expires_at),
        "event": message,
    }
