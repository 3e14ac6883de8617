"""VeltPay on the wire: the create body and paging parsed strictly, the order object and errors rendered.

Errors (the spec shows none; documented in docs/openapi/veltpay.yaml):
    {"error": {"code": "invalid_signature", "message": "...", "fields": {...}?}, "request_id": "..."}
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Response

from bridge.errors import Problem
from bridge.jsonio import json_response
from gateway_core.contracts.veltpay_payloads import order_fields
from gateway_core.domain import fields, money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.manage import MAX_EXPIRY_HOURS, MIN_TTL
from gateway_core.invoices.veltpay_orders import Order, OrderRequest

USDT_DECIMALS = money.USDT.decimals
MIN_TTL_SECONDS, MAX_TTL_SECONDS = int(MIN_TTL.total_seconds()), MAX_EXPIRY_HOURS * 3600
MAX_ORDER_REF = 120
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
_ORDER_REF = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces: it travels in URLs and logs

# The core's codes in VeltPay's lower-case names; anything not listed is lower-cased as it is.
CODES = {
    "INVOICE_NOT_FOUND": "order_not_found",
    "DUPLICATE_EXTERNAL_ID": "order_ref_conflict",
    "NO_DESTINATION_WALLET": "usdt_not_accepted",
    "INVALID_INVOICE_STATE": "invalid_order_state",
}
MESSAGES = {
    "NO_DESTINATION_WALLET": "This store does not accept USDT on TRON (it needs a TRON xpub, or the sandbox network)",
}
# Core field names in the contract's words.
FIELDS = {"ttl": "ttl_seconds", "crypto_currency": "amount"}


def render_error(problem: Problem, request_id: str, code: str | None = None) -> Response:
    """The contract's error body; `code` overrides the name derived from the problem's code."""
    error: dict[str, Any] = {"code": code or CODES.get(problem.code, problem.code.lower()),
                             "message": MESSAGES.get(problem.code, problem.message)}
    if problem.errors:
        error["fields"] = {FIELDS.get(name, name): text for name, text in problem.errors.items()}
    return json_response({"error": error, "request_id": request_id}, problem.status)


def order_object(order: Order, public_url: str, now: Any) -> dict[str, Any]:
    """The order as the spec shows it, plus its metadata ("stored with the order and returned verbatim")."""
    return {**order_fields(order.view, now), "checkout_url": checkout_url(public_url, order.public_id),
            "metadata": order.view.metadata}


def checkout_url(public_url: str, public_id: str) -> str:
    return f"{public_url}/v1/public/checkout/{public_id}"


def parse_order_request(body: dict[str, Any]) -> OrderRequest:
    """The create body, every field checked at once; ValidationFailed names each bad one."""
    errors: dict[str, str] = {}
    order_ref = body.get("order_ref")
    if not isinstance(order_ref, str) or not order_ref:
        errors["order_ref"] = "required: your reference for this order, a string"
    elif len(order_ref) > MAX_ORDER_REF or not _ORDER_REF.fullmatch(order_ref):
        errors["order_ref"] = f"1 to {MAX_ORDER_REF} printable characters without spaces"
    amount = _amount(body.get("amount"), errors)
    ttl = body.get("ttl_seconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)
                            or not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS):
        errors["ttl_seconds"] = f"an integer number of seconds from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}"
    metadata = None
    try:
        metadata = fields.metadata(body.get("metadata"))
    except fields.FieldError as exc:
        errors["metadata"] = "an object of key/value pairs" if str(exc) == "must be an object" else str(exc)
    if errors:
        raise ValidationFailed("The order request is invalid", errors=errors)
    assert isinstance(order_ref, str) and amount is not None
    return OrderRequest(order_ref, amount, ttl, metadata)


def _amount(value: Any, errors: dict[str, str]) -> Decimal | None:
    if value is None:
        errors["amount"] = 'required: a decimal string in USDT, e.g. "49.99"'
        return None
    if not isinstance(value, str):
        errors["amount"] = 'must be a decimal string such as "49.99", never a JSON number'
        return None
    try:
        amount = fields.amount(value, numbers=False)
    except fields.NotPositive as exc:
        errors["amount"] = str(exc)
        return None
    except fields.FieldError:
        errors["amount"] = 'must be a plain decimal string such as "49.99"'
        return None
    if -amount.normalize().as_tuple().exponent > USDT_DECIMALS:  # type: ignore[operator]
        errors["amount"] = f"USDT has {USDT_DECIMALS} decimals; {value} has more"
        return None
    return amount


def parse_page(args: Any) -> tuple[int, int]:
    """(limit, offset) from the query string: limit 1-100 (20 if absent), offset from 0."""
    errors: dict[str, str] = {}
    limit = _whole(args.get("limit"), DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = f"an integer from 1 to {MAX_LIMIT}"
    offset = _whole(args.get("offset"), 0)
    if offset is None or offset < 0:
        errors["offset"] = "an integer from 0"
    if errors:
        raise ValidationFailed("Invalid paging", errors=errors)
    assert limit is not None and offset is not None
    return limit, offset


def _whole(text: str | None, default: int) -> int | None:
    try:
        return fields.whole(text, default=default)
    except fields.FieldError:
        return None
