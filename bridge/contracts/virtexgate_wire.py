"""The VirtexGate contract's shapes (shared/specs/virtexgate-api.txt): the create request, the two responses,
and the error format with the spec's status codes."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Response

from bridge.errors import Problem
from bridge.jsonio import json_response
from gateway_core.adapters.jsonwire import dumps_exact
from gateway_core.checkout_view import Phase, checkout_state
from gateway_core.contracts.virtexgate_payloads import timestamp
from gateway_core.contracts.virtexgate_statuses import (
    CONTRACT,
    external_id_for,
    invoice_status,
    new_invoice_id,
    payment_status,
)
from gateway_core.domain import fields, money
from gateway_core.domain.errors import GatewayError, ValidationFailed
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.views import InvoiceView

MAX_ORDER_ID = 255
MAX_URL = 2048
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_OPEN = (Phase.CHOOSE, Phase.AWAITING, Phase.PARTIAL)


class MissingField(ValidationFailed):
    """A required field is absent: VirtexGate answers 422, where a malformed one is 400."""

    code = "MISSING_FIELD"


class AmountNotPositive(ValidationFailed):
    code = "AMOUNT_TOO_LOW"


class StoreNotPermitted(GatewayError):
    """The key is valid but belongs to another store than the request's storeId."""

    code = "FORBIDDEN"


# Core and body error codes -> the status VirtexGate documents for them (Error Reference).
STATUS_BY_CODE = {
    "INVALID_JSON": 400, "PAYLOAD_TOO_LARGE": 400, "UNSUPPORTED_MEDIA_TYPE": 400, "VALIDATION_ERROR": 400,
    "INVALID_API_KEY": 401,
    "FORBIDDEN": 403,
    "INVOICE_NOT_FOUND": 404, "NOT_FOUND": 404,
    "IDEMPOTENCY_CONFLICT": 409, "DUPLICATE_EXTERNAL_ID": 409, "INVALID_INVOICE_STATE": 409, "EXPIRED_INVOICE": 409,
    "MISSING_FIELD": 422, "AMOUNT_TOO_LOW": 422, "AMOUNT_TOO_HIGH": 422, "NO_DESTINATION_WALLET": 422,
    "RATE_LIMITED": 429,
}


def render_error(problem: Problem, request_id: str) -> Response:
    """{"error": "description"}; field problems are spelled out in the description."""
    status = STATUS_BY_CODE.get(problem.code, 500 if problem.status >= 500 else problem.status)
    message = problem.message if status < 500 else "Server error occurred"
    if problem.errors and status < 500:
        message += ": " + "; ".join(f"{name} {text}" for name, text in problem.errors.items())
    return json_response({"error": message}, status)


def rate_limited(message: str, now: datetime, retry_after: int) -> Response:
    """429 as the spec has it: {error, status, timestamp}, with Retry-After."""
    body = {"error": message, "status": 429, "timestamp": timestamp(now)}
    return json_response(body, 429, headers={"Retry-After": str(retry_after)})


def canonical_body(body: dict[str, Any]) -> str:
    """The request in one spelling (keys sorted, numbers exact), so a retry re-serialised by a client still
    matches its Idempotency-Key."""
    return dumps_exact(body, sort_keys=True)


def check_store(body: dict[str, Any], store_id: int) -> None:
    """storeId must name the key's own store: 422 when absent, 400 when malformed, 403 when another store."""
    value = body.get("storeId")
    if value is None or value == "":
        raise MissingField("Missing field", errors={"storeId": "is required"})
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationFailed("Validation failed", errors={"storeId": "must be a string"})
    if str(value).strip() != str(store_id):
        raise StoreNotPermitted("This API key is not permitted for this store")


def _amount(value: object) -> Decimal:
    try:
        return fields.amount(value)
    except fields.Missing as exc:
        raise MissingField("Missing field", errors={"amount": str(exc)}) from None
    except fields.NotPositive as exc:
        raise AmountNotPositive("Amount too small", errors={"amount": str(exc)}) from None
    except fields.FieldError as exc:
        raise ValidationFailed("Validation failed", errors={"amount": str(exc)}) from None


def _text(body: dict[str, Any], field: str, limit: int) -> str | None:
    try:
        return fields.text(body.get(field), limit)
    except fields.FieldError as exc:
        raise ValidationFailed("Validation failed", errors={field: str(exc)}) from None


def parse_create(body: dict[str, Any]) -> tuple[str, InvoiceRequest]:
    """The new invoice's VirtexGate id and what to create (storeId is checked by check_store)."""
    amount = _amount(body.get("amount"))
    currency = body.get("fiatCurrency") or "USD"
    if not isinstance(currency, str) or currency.strip().upper() not in money.FIAT_EXPONENTS:
        supported = ", ".join(sorted(money.FIAT_EXPONENTS))
        raise ValidationFailed("Validation failed", errors={"fiatCurrency": f"must be one of {supported}"})
    currency = currency.strip().upper()
    order_id = _text(body, "externalOrderId", MAX_ORDER_ID)
    redirect = _text(body, "redirectUrl", MAX_URL)
    if redirect is not None and not _URL.match(redirect):
        raise ValidationFailed("Validation failed", errors={"redirectUrl": "must be an http(s) URL"})
    invoice_id = new_invoice_id()
    return invoice_id, InvoiceRequest(
        amount=amount, amount_type="fiat", currency=currency, fiat_currency=currency, kind="invoice",
        contract=CONTRACT, external_id=external_id_for(invoice_id), success_url=redirect,
        metadata={"externalOrderId": order_id} if order_id is not None else None,
    )


def checkout_url(view: InvoiceView, public_url: str) -> str:
    """Our hosted payment page: coin choice, QR code, countdown, redirect to redirectUrl once paid."""
    return f"{public_url}/pay/{view.number}"


def created_body(invoice_id: str, view: InvoiceView, public_url: str) -> dict[str, Any]:
    return {"id": invoice_id, "checkoutUrl": checkout_url(view, public_url), "expiresAt": timestamp(view.expires_at)}


def status_body(view: InvoiceView, now: datetime) -> dict[str, Any]:
    """The spec's Status Response Shape; `payment` is the coin chosen (or paid), else the store's first."""
    state = checkout_state(view, now)
    quote = view.display_quote
    remaining = int((view.expires_at - now).total_seconds()) if state.phase in _OPEN else 0
    return {
        "status": invoice_status(view, now),
        "expiresAt": timestamp(view.expires_at),
        "secondsRemaining": max(0, remaining),
        "overpaid": view.overpaid,  # ours: more than due was received (status still reads Paid once final)
        "payment": {
            "coinType": quote.asset,
            "amountDue": quote.units(state.amount_due),
            "amountPaid": quote.units(state.amount_paid),
            "status": payment_status(view, now),
            "txId": view.payment_tx_id,
            "confirmations": view.confirmations,
            "requiredConfirmations": state.confirmations_target,
            "address": quote.address,
        },
    }
