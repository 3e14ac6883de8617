"""VOLTXT dynamic-payment sessions, as the official WHMCS and OpenCart plugins use them
(shared/specs/voltxt-observed-clients.md). A session is an invoice of kind 'dynamic'."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from bridge.contracts import voltxt_limits
from bridge.contracts.voltxt_limits import voltxt_store, within_budget
from bridge.contracts.voltxt_wire import (
    api_key,
    check_network,
    invoice_body,
    parse_amount,
    parse_invoice_request,
    render_error,
)
from bridge.errors import register_format
from bridge.extensions import services
from bridge.jsonio import json_response, read_json_object
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import cancel_invoice, get_invoice, update_amount
from gateway_core.views import InvoiceView

bp = Blueprint("dynamic_payment", __name__, url_prefix="/api/dynamic-payment")
voltxt_limits.answer_in_voltxt_format(bp)


@bp.record_once
def _formats(state: Any) -> None:
    register_format(state.app, "/api/dynamic-payment", render_error)
    voltxt_limits.install(state.app)


def session_body(view: InvoiceView) -> dict[str, Any]:
    svc = services()
    body = invoice_body(view, svc.settings.public_url, svc.clock.now())
    sol = next((q for q in view.quotes if q.asset == "SOL"), None)
    return {
        "session_id": view.number,
        "external_payment_id": view.external_id,
        **body,
        "amount_sol": sol.units(sol.amount_due) if sol else None,
    }


def _respond(view: InvoiceView, status: int = 200, message: str | None = None) -> Response:
    data = session_body(view)
    payload: dict[str, Any] = {"success": True, **data, "data": data, "session": data}
    if message:
        payload["message"] = message
    return json_response(payload, status)


@bp.post("/initiate")
def initiate() -> Response:
    body = read_json_object()
    svc = services()
    caller = svc.key_cache.caller(svc.uow, api_key(body), svc.clock)
    within_budget(caller.digest, caller.per_minute)
    check_network(body.get("network"), caller.store)
    session_request = parse_invoice_request(body, kind="dynamic")
    with svc.uow() as uow:
        made = create_invoice(uow, caller.store, session_request, svc.invoicing, key=caller)
        return _respond(made.view, 201 if made.created else 200)  # rendered before the commit


@bp.get("/<session_id>/status")
def status(session_id: str) -> Response:
    svc = services()
    with svc.uow() as uow:
        store = voltxt_store(uow, {})
        check_network(request.args.get("network"), store)
        view = get_invoice(uow, store, session_id, svc.clock, kind="dynamic")
    return _respond(svc.current_view(view))


@bp.post("/<session_id>/cancel")
def cancel(session_id: str) -> Response:
    body = read_json_object(required=False)
    svc = services()
    with svc.uow() as uow:
        store = voltxt_store(uow, body)
        check_network(body.get("network"), store)
        view = cancel_invoice(uow, store, session_id, svc.clock, kind="dynamic")
    return _respond(view, message="Payment session cancelled")


@bp.post("/<session_id>/update-amount")
def change_amount(session_id: str) -> Response:
    body = read_json_object()
    svc = services()
    errors: dict[str, str] = {}
    amount = parse_amount(body.get("amount"), "amount", errors)
    with svc.uow() as uow:
        store = voltxt_store(uow, body)
        check_network(body.get("network"), store)
        if amount is None:
            raise ValidationFailed("Request validation failed", errors=errors)
        view = update_amount(uow, store, session_id, amount, svc.rates, svc.clock, svc.limits, kind="dynamic")
    return _respond(view, message="Payment amount updated")
