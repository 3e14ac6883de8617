"""What the buyer does on the page: choose an asset, return to the store, and (sandbox) simulate a payment."""

from __future__ import annotations

from decimal import Decimal

from flask import Response, redirect, request

from bridge.checkout.common import (
    bp,
    checked_number,
    load,
    page_path,
    same_site,
    secure,
)
from bridge.checkout_wire import (
    return_url,
    status_document,
)
from bridge.contracts.voltxt_wire import parse_amount
from bridge.extensions import services
from bridge.jsonio import json_response, read_json_object
from gateway_core.checkout_view import checkout_state
from gateway_core.domain import money
from gateway_core.domain.errors import InvoiceNotFound, ValidationFailed
from gateway_core.domain.money import plain
from gateway_core.invoices.checkout import choose_payment_asset, simulated_amount
from gateway_core.invoices.manage import public_invoice
from gateway_core.payments.sandbox import simulate_payment


@bp.post("/pay/<number>/asset")
def choose(number: str) -> Response:
    """Remember the buyer's asset (VirtexGate's Waiting); a form post returns to the page."""
    same_site()
    form = request.mimetype == "application/x-www-form-urlencoded"
    body = dict(request.form) if form else read_json_object()
    asset = body.get("asset")
    if not isinstance(asset, str) or not asset:
        raise ValidationFailed("Request validation failed", errors={"asset": "is required"})
    svc = services()
    with svc.uow() as uow:
        view = choose_payment_asset(uow, checked_number(number), asset, svc.clock)
    if form:
        return secure(redirect(page_path(view), 303))  # type: ignore[arg-type]
    now = svc.clock.now()
    return secure(json_response(status_document(checkout_state(view, now), now)))


@bp.get("/pay/<number>/return")
def back_to_store(number: str) -> Response:
    """To the store's success_url with its placeholders filled once paid; back to the page before that."""
    view, state = load(number)
    target = return_url(view, state.phase) or page_path(view)
    return secure(redirect(target, 303))  # type: ignore[arg-type]


@bp.post("/pay/<number>/simulate")
def simulate(number: str) -> Response:
    """Sandbox only: add a transfer to the ledger (404 for invoices on any other network).

    Body: optional `asset` (default: the chosen one), and `amount` or `mode` (full, partial, overpay).
    """
    same_site()
    body = read_json_object(required=False)
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    if body.get("amount") not in (None, ""):
        amount = parse_amount(body.get("amount"), "amount", errors)
    asset = body.get("asset")
    if asset is not None and not isinstance(asset, str):
        errors["asset"] = "must be SOL, USDC or USDT"
    mode = body.get("mode")
    if mode is not None and not isinstance(mode, str):
        errors["mode"] = "must be full, partial or overpay"
    if errors:
        raise ValidationFailed("Request validation failed", errors=errors)
    svc = services()
    with svc.uow() as uow:
        if mode and amount is None:
            view = public_invoice(uow, checked_number(number), svc.clock)
            if view.network != "sandbox":
                raise InvoiceNotFound("Invoice with given number not found on the sandbox network")
            code = (asset or view.chosen_asset or view.quotes[0].asset).upper()
            amount = simulated_amount(checkout_state(view, svc.clock.now()), code, mode)
        transfer = simulate_payment(uow, number, svc.clock, asset, amount)
    sent = money.from_base_units(transfer.amount, money.asset(transfer.asset))
    return json_response({"success": True, "tx_id": transfer.tx_id, "asset": transfer.asset,
                          "amount_base_units": transfer.amount, "amount": plain(sent),
                          "to_address": transfer.to_address}, 201)
