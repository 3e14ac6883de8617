"""VirtexGate REST API v1 (shared/specs/virtexgate-api.txt): POST /api/invoices and GET /api/invoices/<id>.

Authenticated by X-Api-Key (`vgk_` keys, `voltbridge key create <store> --kind virtexgate`), rate limited per
key, with Idempotency-Key replay on create. The OpenAPI document is docs/openapi/virtexgate.yaml.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from bridge.contracts.virtexgate_wire import (
    canonical_body,
    check_store,
    created_body,
    parse_create,
    rate_limited,
    render_error,
    status_body,
)
from bridge.errors import register_format
from bridge.extensions import services
from bridge.jsonio import dumps, json_response, read_json_object
from bridge.key_ratelimit import RateLimited, key_limiter
from gateway_core.adapters.db import UnitOfWork
from gateway_core.contracts.virtexgate_statuses import CONTRACT, canonical_invoice_id, external_id_for
from gateway_core.domain.errors import InvalidApiKey, InvoiceNotFound
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import find_by_external_id
from gateway_core.invoices.virtexgate_idempotency import Replay, check_key, claim, complete, request_digest
from gateway_core.keys.api_keys import Caller
from gateway_core.keys.key_limits import authenticate_caller

PREFIX = "/api/invoices"
bp = Blueprint("virtexgate", __name__, url_prefix=PREFIX)


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    app.extensions["voltbridge.virtexgate_limiter"] = key_limiter(services(app).settings.redis_url)
    register_format(app, PREFIX, render_error)


def _raw_key() -> str:
    raw = request.headers.get("X-Api-Key", "").strip()
    if not raw:
        raise InvalidApiKey("Missing API key: send it in the X-Api-Key header")
    return raw


def _caller(uow: UnitOfWork, raw_key: str) -> Caller:
    """The key's store, once the key is valid and within its requests per minute."""
    svc = services()
    caller = authenticate_caller(uow, raw_key, svc.clock, CONTRACT)
    limiter = current_app.extensions["voltbridge.virtexgate_limiter"]
    verdict = limiter.hit(caller.bucket, caller.per_minute, svc.clock.now().timestamp())
    if not verdict.allowed:
        raise RateLimited(verdict)
    return caller


@bp.errorhandler(RateLimited)
def _too_many(exc: RateLimited) -> Response:
    verdict = exc.verdict
    return rate_limited(f"Too many requests: {verdict.limit} per minute for this API key; retry after "
                        f"{verdict.reset_after} s", services().clock.now(), verdict.reset_after)


@bp.post("")
def create() -> Response:
    """Create an invoice; with Idempotency-Key, a retry gets the first response back."""
    svc = services()
    raw_key = _raw_key()
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None:
        idempotency_key = check_key(idempotency_key)
    body = read_json_object()  # before the transaction: a slow upload never holds the database
    with svc.uow() as uow:
        caller = _caller(uow, raw_key)
        claimed = None
        if idempotency_key is not None:
            found = claim(uow, caller.bucket, caller.store.id, idempotency_key,
                          request_digest(canonical_body(body)), svc.clock.now())
            if isinstance(found, Replay):
                return Response(found.body, found.status, mimetype="application/json",
                                headers={"Idempotent-Replayed": "true"})
            claimed = found
        check_store(body, caller.store.id)
        invoice_id, wanted = parse_create(body)
        made = create_invoice(uow, caller.store, wanted, svc.invoicing)
        payload = dumps(created_body(invoice_id, made.view, svc.settings.public_url))
        if claimed is not None:
            complete(claimed, 201, payload)
    return Response(payload, 201, mimetype="application/json")


@bp.get("/<invoice_id>")
def status(invoice_id: str) -> Response:
    """The invoice's status and payment, for servers that poll instead of waiting for the webhook."""
    svc = services()
    raw_key = _raw_key()
    with svc.uow() as uow:
        caller = _caller(uow, raw_key)
        canonical = canonical_invoice_id(invoice_id)
        if canonical is None:
            raise InvoiceNotFound("Invoice not found")
        try:
            view = find_by_external_id(uow, caller.store, external_id_for(canonical), svc.clock)
        except InvoiceNotFound:
            raise InvoiceNotFound("Invoice not found") from None
        if view.contract != CONTRACT:
            raise InvoiceNotFound("Invoice not found")
    view = svc.current_view(view)
    return json_response(status_body(view, svc.clock.now()))
