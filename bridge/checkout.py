"""The buyer's side: the hosted payment page and the sandbox's simulate control.

A minimal server-rendered page for now; the full page (asset choice, QR codes, live status) is issue 3.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Response, current_app, render_template

from bridge.contracts.voltxt_wire import parse_amount
from bridge.jsonio import json_response, read_json_object
from gateway_core.bootstrap import Services
from gateway_core.domain.errors import ValidationFailed
from gateway_core.services.invoices import public_invoice
from gateway_core.services.sandbox import simulate_payment

bp = Blueprint("checkout", __name__)


def _services() -> Services:
    return current_app.extensions["voltbridge"]  # type: ignore[no-any-return]


@bp.get("/pay/<number>")
@bp.get("/pay-dynamic/<number>")
def pay_page(number: str) -> str:
    svc = _services()
    with svc.uow() as uow:
        view = public_invoice(uow, number, svc.clock)
    return render_template("checkout/pay.html", invoice=view, now=svc.clock.now())


@bp.post("/pay/<number>/simulate")
def simulate(number: str) -> Response:
    """Sandbox only: add a transfer to the ledger (404 for invoices on any other network)."""
    body = read_json_object(required=False)
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    if body.get("amount") not in (None, ""):
        amount = parse_amount(body.get("amount"), "amount", errors)
    asset = body.get("asset")
    if asset is not None and not isinstance(asset, str):
        errors["asset"] = "must be SOL, USDC or USDT"
    if errors:
        raise ValidationFailed("Request validation failed", errors=errors)
    svc = _services()
    with svc.uow() as uow:
        transfer = simulate_payment(uow, number, svc.clock, asset, amount)
    return json_response({"success": True, "tx_id": transfer.tx_id, "asset": transfer.asset,
                          "amount_base_units": transfer.amount, "to_address": transfer.to_address}, 201)
