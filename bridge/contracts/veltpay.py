"""VeltPay contract (shared/specs/veltpay-api.txt): HMAC-signed /v1/orders, and the public /v1/public endpoints
behind the hosted checkout link. Parse, call the core, render; errors in VeltPay's own shape (veltpay_wire)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, g, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from bridge.contracts.veltpay_wire import order_object, parse_order_request, parse_page, render_error
from bridge.errors import Problem, register_format
from bridge.extensions import services
from bridge.jsonio import json_response, read_json_object
from bridge.ratelimit import retry_after, status_bucket
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store
from gateway_core.contracts.veltpay_payloads import public_fields
from gateway_core.domain.errors import InvoiceNotFound
from gateway_core.invoices.veltpay_orders import create_order, get_order, list_orders, public_order
from gateway_core.keys.veltpay_auth import READS, RequestRejected, SignedRequest, authenticate_request

api = Blueprint("veltpay", __name__, url_prefix="/v1/orders")
public = Blueprint("veltpay_public", __name__, url_prefix="/v1/public")


@api.record_once
def _setup(state: Any) -> None:
    app = state.app
    register_format(app, "/v1/orders", render_error)
    register_format(app, "/v1/public", render_error)
    # The public endpoint is polled by checkout pages: the same per-client budget as our own pay page's polling.
    settings = services(app).settings
    app.extensions["voltbridge.veltpay"] = status_bucket(settings.redis_url, settings.checkout_status_per_minute,
                                                         name="veltpay-public-status")


@api.errorhandler(RequestRejected)
def _rejected(exc: RequestRejected) -> Response:
    return render_error(Problem(401, exc.code, exc.message), g.get("request_id", "-"), code=exc.reason)


def signed_path() -> str:
    """The request path with its query string, as the client sent (and signed) it."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith(("http://", "https://")):
        path = urlsplit(raw).path  # absolute-form request target (a forward proxy)
    elif raw:
        path = raw.split("?", 1)[0]
    else:
        path = quote(request.script_root + request.path)
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


@api.before_request
def _authenticate() -> None:
    """Every merchant request is signed; the signature is checked (and spent) before the handler runs."""
    svc = services()
    signed = SignedRequest(
        key_id=request.headers.get("X-Api-Key"), timestamp=request.headers.get("X-Timestamp"),
        signature=request.headers.get("X-Signature"), method=request.method, path=signed_path(),
        body=request.get_data(cache=True))
    # Its own transaction: the signature is recorded even if the handler then fails, so a copy is known as one.
    with svc.uow(read_only=request.method in READS) as uow:  # a read records nothing
        caller = authenticate_request(uow, svc.vault, svc.clock, signed)
    g.veltpay_store_id, g.veltpay_replay = caller.store_id, caller.replay


def _store(uow: UnitOfWork) -> Store:
    store = uow.session.get(Store, g.veltpay_store_id)
    if store is None:
        raise RequestRejected("invalid_api_key", "Unknown, revoked or expired X-Api-Key")
    return store


@api.post("")
def create() -> Response:
    """Create an order (201), or return the existing one for a retry with the same order_ref and amount (200).

    A replayed signed request is such a retry (the same body, so the same order_ref and amount): it gets the
    order its first copy created, marked Idempotent-Replayed.
    """
    order_request = parse_order_request(read_json_object())
    svc = services()
    with svc.uow() as uow:
        order, created = create_order(uow, _store(uow), order_request, svc.invoicing)
        # Rendered before the commit: an answer that cannot be built leaves nothing written.
        response = json_response(order_object(order, svc.settings.public_url, svc.clock.now()),
                                 201 if created else 200)
    if g.get("veltpay_replay"):
        response.headers["Idempotent-Replayed"] = "true"
    return response


@api.get("/<order_id>")
def retrieve(order_id: str) -> Response:
    svc = services()
    with svc.uow(read_only=True) as uow:
        order = get_order(uow, _store(uow), order_id, svc.clock)
    order = replace(order, view=svc.current_view(order.view))
    return json_response(order_object(order, svc.settings.public_url, svc.clock.now()))


@api.get("")
def index() -> Response:
    """The store's orders, newest first, paged with limit and offset (both echoed)."""
    limit, offset = parse_page(request.args)
    svc = services()
    with svc.uow(read_only=True) as uow:
        orders = list_orders(uow, _store(uow), limit, offset, svc.clock)
    now = svc.clock.now()
    return json_response({"data": [order_object(o, svc.settings.public_url, now) for o in orders],
                          "limit": limit, "offset": offset})


def _public_id(text: str) -> str:
    """The canonical UUID, or 'not found' without touching the database."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise InvoiceNotFound("No such order") from None
    if str(parsed) != text.lower():
        raise InvoiceNotFound("No such order")
    return str(parsed)


@public.get("/orders/<public_id>")
def public_status(public_id: str) -> Response:
    """Display-safe status of an order by the unguessable id in its checkout link (no authentication)."""
    wait = current_app.extensions["voltbridge.veltpay"].take(request.remote_addr or "-")
    if wait:
        response = render_error(Problem(429, "RATE_LIMITED", "Too many requests; slow down"),
                                g.get("request_id", "-"))
        response.headers["Retry-After"] = retry_after(wait)
        return response
    svc = services()
    with svc.uow(read_only=True) as uow:
        view = public_order(uow, _public_id(public_id), svc.clock)
    response = json_response(public_fields(svc.current_view(view), svc.clock.now()))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"  # display-safe by design; pages elsewhere may poll it
    return response


@public.get("/checkout/<public_id>")
def checkout(public_id: str) -> WerkzeugResponse:
    """The order's checkout_url: the hosted payment page of its invoice."""
    svc = services()
    with svc.uow(read_only=True) as uow:
        view = public_order(uow, _public_id(public_id), svc.clock)
    return redirect(f"{request.script_root}/pay/{quote(view.number)}", 302)
