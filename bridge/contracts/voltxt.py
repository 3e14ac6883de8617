"""VOLTXT plugin API (shared/specs/voltxt-plugin-api.txt): invoices and test-connection."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from bridge.contracts import voltxt_limits
from bridge.contracts.voltxt_limits import voltxt_store, within_budget
from bridge.contracts.voltxt_wire import api_key, check_network, invoice_body, parse_invoice_request, render_error
from bridge.errors import register_format
from bridge.extensions import services
from bridge.jsonio import json_response, read_json_object
from gateway_core.adapters.jsonwire import dumps_view
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import find_by_external_id, get_invoice

bp = Blueprint("voltxt", __name__, url_prefix="/api/plugin")
voltxt_limits.answer_in_voltxt_format(bp)


@bp.record_once
def _formats(state: Any) -> None:
    register_format(state.app, "/api/plugin", render_error)
    voltxt_limits.install(state.app)


def invoice_response(view: Any, status: int = 200) -> Response:
    """The invoice flat, under `invoice` and under `data` (plugins read either): serialised once, placed thrice."""
    svc = services()
    inner = dumps_view(invoice_body(view, svc.settings.public_url, svc.clock.now()))
    body = b'{"success":true,' + inner[1:-1] + b',"invoice":' + inner + b',"data":' + inner + b"}"
    return Response(body, status=status, mimetype="application/json")


@bp.post("/invoice/create")
def create() -> Response:
    body = read_json_object()
    svc = services()
    caller = svc.key_cache.caller(svc.uow, api_key(body), svc.clock)
    within_budget(caller.digest, caller.per_minute)
    check_network(body.get("network"), caller.store)
    wanted = parse_invoice_request(body, kind="invoice")
    with svc.uow() as uow:
        made = create_invoice(uow, caller.store, wanted, svc.invoicing, key=caller)
        # Built before the commit: an answer that cannot be rendered leaves nothing written.
        return invoice_response(made.view, 201 if made.created else 200)


@bp.get("/invoice/<number>/status")
def status(number: str) -> Response:
    svc = services()
    with svc.uow() as uow:
        store = voltxt_store(uow, {})
        check_network(request.args.get("network"), store)
        view = get_invoice(uow, store, number, svc.clock, kind="invoice")
    return invoice_response(svc.current_view(view))


@bp.get("/invoice/by-external-id/<path:external_id>")
def by_external_id(external_id: str) -> Response:
    svc = services()
    with svc.uow() as uow:
        store = voltxt_store(uow, {})
        check_network(request.args.get("network"), store)
        view = find_by_external_id(uow, store, external_id, svc.clock)
    return invoice_response(svc.current_view(view))


@bp.post("/test-connection")
def test_connection() -> Response:
    body = read_json_object(required=False)
    svc = services()
    with svc.uow() as uow:
        store = voltxt_store(uow, body)
        check_network(body.get("network"), store)
        data = {
            "store": {"id": store.id, "name": store.name, "network": store.network,
                      "has_destination_wallet": bool(store.wallets)},
            "user": {"email": store.notification_email},
        }
    return json_response({"success": True, "message": "Connection successful", "data": data})
