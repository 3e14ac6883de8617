"""The VOLTXT plugin contract's shapes: request parsing, the invoice rendering, statuses and errors.

Shared by the invoice endpoints (voltxt.py) and the dynamic-payment sessions (dynamic_payment.py).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Response, request

from bridge.errors import Problem
from bridge.jsonio import iso, json_response
from gateway_core.adapters.models import Store
from gateway_core.contracts.voltxt_payloads import voltxt_status as core_voltxt_status
from gateway_core.domain import fields, money
from gateway_core.domain.errors import NetworkMismatch, ValidationFailed
from gateway_core.invoices.manage import MAX_EXPIRY_HOURS, MIN_EXPIRY_HOURS, InvoiceRequest
from gateway_core.views import InvoiceView

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3,5}$")
NETWORK_VALUES = ("testnet", "devnet", "mainnet", "sandbox")
TEXT_LIMITS = {"platform": 50, "external_invoice_id": 191, "external_payment_id": 191, "description": 1000,
               "customer_name": 200, "customer_email": 254}


def render_error(problem: Problem, request_id: str) -> Response:
    """{"success": false, "message", "error", "error_code"} (+ per-field "errors", + request id)."""
    body: dict[str, Any] = {"success": False, "message": problem.message, "error": problem.message,
                            "error_code": problem.code}
    if problem.errors:
        body["errors"] = problem.errors
    body["request_id"] = request_id
    return json_response(body, problem.status)


def api_key(body: dict[str, Any]) -> object:
    """The key from the X-Api-Key header or the JSON body; for GET, as the plugins send it, the query string.

    Never a POST's query string: the contract puts the key in a POST's body, and URLs end up in logs.
    """
    key = request.headers.get("X-Api-Key") or body.get("api_key")
    if not key and request.method == "GET":
        key = request.args.get("api_key")
    return key


def check_network(requested: object, store: Store) -> None:
    """testnet/devnet match any non-production store; mainnet only a mainnet store."""
    if requested in (None, ""):
        return
    if not isinstance(requested, str) or requested.lower() not in NETWORK_VALUES:
        raise ValidationFailed("Request validation failed",
                               errors={"network": f"must be one of {', '.join(NETWORK_VALUES)}"})
    value = requested.lower()
    ok = {"mainnet": store.network == "mainnet", "sandbox": store.network == "sandbox"}.get(
        value, store.network in ("sandbox", "devnet"))
    if not ok:
        raise NetworkMismatch(f"Network '{value}' does not match the store's network '{store.network}'")


def parse_amount(value: object, field: str, errors: dict[str, str]) -> Decimal | None:
    """A positive exact amount from a JSON number or a plain decimal string (PHP plugins send '99.99')."""
    try:
        return fields.amount(value)
    except fields.FieldError as exc:
        errors[field] = str(exc)
        return None


def _text(body: dict[str, Any], field: str, errors: dict[str, str], required: bool = False) -> str | None:
    try:
        return fields.text(body.get(field), TEXT_LIMITS.get(field, 2048), required=required,
                           multiline=field == "description")
    except fields.FieldError as exc:
        errors[field] = str(exc)
        return None


def _url(body: dict[str, Any], field: str, errors: dict[str, str]) -> str | None:
    value = _text(body, field, errors)
    if value and not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        errors[field] = "must be an http(s) URL"
        return None
    return value


def parse_invoice_request(body: dict[str, Any], kind: str) -> InvoiceRequest:
    """Every field of the create request validated; all problems reported at once, per field."""
    errors: dict[str, str] = {}
    id_field = "external_payment_id" if kind == "dynamic" else "external_invoice_id"
    external_id = _text(body, id_field, errors, required=kind == "invoice")
    platform = _text(body, "platform", errors)
    amount_type = body.get("amount_type") or "fiat"
    if amount_type not in ("fiat", "crypto"):
        errors["amount_type"] = "must be 'fiat' or 'crypto'"
    amount = parse_amount(body.get("amount"), "amount", errors)
    fiat_currency = body.get("fiat_currency") or "USD"
    if not isinstance(fiat_currency, str) or not _CURRENCY.fullmatch(fiat_currency):
        errors["fiat_currency"] = "must be a currency code such as USD"
        fiat_currency = "USD"
    fiat_currency = fiat_currency.upper()
    if fiat_currency not in money.FIAT_EXPONENTS:
        errors["fiat_currency"] = f"{fiat_currency} is not supported"
    crypto_currency = body.get("crypto_currency") or "SOL"
    crypto_ok = isinstance(crypto_currency, str) and crypto_currency.upper() in money.ASSETS
    if amount_type == "crypto" and not crypto_ok:
        errors["crypto_currency"] = f"must be one of {', '.join(money.ASSET_ORDER)}"
    expiry: int | None = None
    if body.get("expiry_hours") not in (None, ""):
        try:
            expiry = fields.whole(body.get("expiry_hours"), low=MIN_EXPIRY_HOURS, high=MAX_EXPIRY_HOURS)
        except fields.FieldError as exc:
            errors["expiry_hours"] = str(exc)
    description = _text(body, "description", errors)
    customer_name = _text(body, "customer_name", errors)
    customer_email = _text(body, "customer_email", errors)
    if customer_email and not _EMAIL.match(customer_email):
        errors["customer_email"] = "must be an email address"
    urls = {name: _url(body, name, errors) for name in ("callback_url", "success_url", "cancel_url")}
    metadata = None
    try:
        metadata = fields.metadata(body.get("metadata"))
    except fields.FieldError as exc:
        errors["metadata"] = str(exc)
    if errors or amount is None:
        raise ValidationFailed("Request validation failed", errors=errors)
    return InvoiceRequest(
        amount=amount, amount_type=amount_type,
        currency=fiat_currency if amount_type == "fiat" else str(crypto_currency).upper(),
        fiat_currency=fiat_currency, kind=kind, external_id=external_id, platform=platform,
        expiry_hours=expiry, description=description, customer_email=customer_email,
        customer_name=customer_name, metadata=metadata, **urls,
    )


def voltxt_status(view: InvoiceView) -> str:
    """Canonical status as VOLTXT names it (DESIGN.md §4); the webhooks use the same mapping."""
    return core_voltxt_status(view.status, view.settlement_mode)


def invoice_body(view: InvoiceView, public_url: str, now: Any) -> dict[str, Any]:
    """The flat VOLTXT invoice: the spec's fields first, then what plugins need to show and reconcile."""
    display = view.display_quote
    # The document shows both Solana addresses on every invoice: one the store cannot take is null, not absent.
    addresses = {"sol_deposit_address": None, "usdc_deposit_address": None,
                 **{f"{q.asset.lower()}_deposit_address": q.address for q in view.quotes}}
    path = "pay-dynamic" if view.kind == "dynamic" else "pay"
    return {
        "invoice_number": view.number,
        "payment_url": f"{public_url}/{path}/{view.number}",
        "deposit_address": view.quotes[0].address,
        **addresses,
        "amount_crypto": display.units(display.amount_due),
        "crypto_currency": display.asset,
        "external_invoice_id": view.external_id,
        "platform": view.platform,
        "network": view.network,
        "status": voltxt_status(view),
        "lifecycle_status": view.status.value,
        "amount_fiat": view.fiat_amount,
        "fiat_currency": view.fiat_currency,
        "amount_received_crypto": display.units(view.received_units),
        "remaining_amount_crypto": display.units(view.remaining_units),
        "payment_progress_percentage": view.progress_percent,
        "paid_currency": view.paid_asset,
        "is_overpaid": view.overpaid,
        "is_paid_late": view.paid_late,
        "is_expired": view.is_expired(now),
        "confirmations": view.confirmations,
        "payment_tx_id": view.payment_tx_id,
        "auto_process_tx_id": view.auto_process_tx_id,
        "payment_type": "pda_based" if view.settlement_mode == "deposit" else "direct_wallet",
        "description": view.description,
        "customer_email": view.customer_email,
        "customer_name": view.customer_name,
        "success_url": view.success_url,
        "cancel_url": view.cancel_url,
        "metadata": view.metadata or {},
        "payment_options": [
            {"currency": q.asset, "address": q.address, "reference": q.reference,
             "amount": q.units(q.amount_due), "amount_base_units": q.amount_due,
             "amount_paid": q.units(q.amount_paid), "amount_remaining": q.units(q.remaining),
             "rate": q.rate, "rate_currency": q.rate_currency, "rate_sources": list(q.rate_sources),
             "rated_at": iso(q.rated_at) if q.rated_at else None,
             "quote_expires_at": iso(q.locked_until or view.expires_at)}
            for q in view.quotes
        ],
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "expiry_date": iso(view.expires_at),
        "paid_at": iso(view.paid_at) if view.paid_at else None,
    }
